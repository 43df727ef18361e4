"""Reports for a dataset scan: text for people, JSON for pipelines, SARIF for dashboards."""

from __future__ import annotations

import json
from typing import Any

from bastion import __version__
from bastion.data.base import DataFinding
from bastion.data.engine import DataReport
from bastion.models import SARIF_LEVEL as _LEVEL
from bastion.models import SARIF_SCHEMA, Severity
from bastion.models import SARIF_SCORE as _SCORE

REPORT_SCHEMA_VERSION = 1


def to_json(report: DataReport, fail_on: Severity) -> str:
    doc = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": f"bastion {__version__}",
        "fail_on": fail_on.label,
        **report.to_dict(),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)


def to_sarif(report: DataReport) -> str:
    rules: dict[str, dict[str, Any]] = {}
    for f in report.findings:
        rule = rules.setdefault(f.rule, _sarif_rule(f))
        if float(_SCORE[f.severity]) > float(rule["properties"]["security-severity"]):
            rule["properties"]["security-severity"] = _SCORE[f.severity]
    fallback = report.paths[0] if report.paths else "."
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{e.location}: {e.message}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": _uri(e.location)}}}],
        }
        for e in report.errors
    ]
    driver = {
        "name": "bastion-data",
        "version": __version__,
        "informationUri": "https://github.com/bastion-ml/bastion",
        "rules": list(rules.values()),
    }
    run = {
        "tool": {"driver": driver},
        "results": [_sarif_result(f, fallback) for f in report.findings],
        "invocations": [
            {
                "executionSuccessful": report.error_count == 0,
                "toolExecutionNotifications": notifications,
            }
        ],
    }
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, ensure_ascii=False, default=str)


def _sarif_rule(f: DataFinding) -> dict[str, Any]:
    return {
        "id": f.rule,
        "name": f.rule.replace(".", "/"),
        "shortDescription": {"text": f.rule},
        "properties": {"security-severity": _SCORE[f.severity]},
    }


def _sarif_result(f: DataFinding, fallback: str) -> dict[str, Any]:
    where = [(_uri(e.location), _region(e.location)) for e in f.examples] or [(fallback, {})]
    return {
        "ruleId": f.rule,
        "level": _LEVEL[f.severity],
        "message": {"text": f.message},
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": uri}, **region}}
            for uri, region in where
        ],
        "properties": {
            "severity": f.severity.label,
            "score": round(f.score, 4),
            "row_count": f.count,
            "rows": list(f.rows[:1000]),
            "evidence": dict(f.evidence),
        },
    }


def _uri(location: str) -> str:
    path, _, line = location.rpartition(":")
    return (
        path
        if path and line.isdigit()
        else location.split("#", maxsplit=1)[0].split("[", maxsplit=1)[0]
    )


def _region(location: str) -> dict[str, Any]:
    _, _, line = location.rpartition(":")
    return {"region": {"startLine": int(line)}} if line.isdigit() and int(line) > 0 else {}


def to_text(report: DataReport, fail_on: Severity, *, examples: int = 3) -> str:
    """What a person reads: the worst findings first, each with counts, evidence and rows."""
    where = ", ".join(report.paths)
    lines = [
        f"{where}: {report.records} rows read in {report.seconds:.1f}s ({report.passes} passes)"
    ]
    if report.error_count:
        lines.append(f"{report.error_count} row(s) could not be read:")
        lines.extend(f"  {e.location}: {e.message}" for e in report.errors[:10])
        if report.error_count > 10:
            lines.append(f"  ... and {report.error_count - 10} more (see --format json)")
    if not report.findings:
        lines.append("no findings")
    for f in report.findings:
        lines.append("")
        lines.append(f"[{f.severity.label.upper()}] {f.rule}: {f.message}")
        ev = {k: v for k, v in f.evidence.items() if k not in ("scripts",)}
        if ev:
            lines.append("  evidence: " + ", ".join(f"{k}={_short(v)}" for k, v in ev.items()))
        head = ", ".join(str(r) for r in f.rows[:12])
        more = f" ... (+{f.count - 12})" if f.count > 12 else ""
        lines.append(f"  rows: {head}{more}")
        for e in f.examples[:examples]:
            lines.append(f"  e.g. {e.location}")
            lines.append(f"       prompt:   {e.prompt}")
            lines.append(f"       response: {e.response}")
    lines.append("")
    counts: dict[str, int] = {}
    for f in report.findings:
        counts[f.severity.label] = counts.get(f.severity.label, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in counts.items()) or "none"
    flagged = len(report.flagged(Severity.MEDIUM))
    lines.append(
        f"findings: {summary}; rows flagged at medium or above: {flagged} of {report.records}"
    )
    worst = report.max_severity
    verdict = "FAIL" if worst is not None and worst >= fail_on else "pass"
    lines.append(f"{verdict} (--fail-on {fail_on.label})")
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    text = (
        json.dumps(value, ensure_ascii=False, default=str)
        if not isinstance(value, str)
        else repr(value)
    )
    return text if len(text) <= 120 else text[:119] + "…"
