"""Writers for CI: JUnit XML (one test case per attempt, one per gate) and SARIF 2.1.0.

Responses are model output, untrusted: XML is built with ElementTree (which escapes)
after characters XML 1.0 cannot carry are removed.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET  # used to write XML, never to parse it
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bastion import __version__
from bastion.models import SARIF_SCHEMA
from bastion.redteam.base import OWASP_LLM_2025

_XML_BAD = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: Any, limit: int = 4000) -> str:
    s = _XML_BAD.sub("\ufffd", str(text))
    return s if len(s) <= limit else s[:limit] + "…"


def _why(record: Mapping[str, Any]) -> str:
    hits = [f"{d['detector']}: {d['reason']}" for d in record.get("detections", []) if d.get("hit")]
    return "; ".join(hits) or record.get("error", "")


def to_junit(records: Iterable[Mapping[str, Any]], summary: Mapping[str, Any]) -> str:
    suites = ET.Element("testsuites", name="bastion redteam")
    by_cat: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in records:
        by_cat[str(r.get("category"))].append(r)
    for cat in sorted(by_cat):
        items = by_cat[cat]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"redteam.{cat}",
            tests=str(len(items)),
            failures=str(sum(r["status"] == "fail" for r in items)),
            errors=str(sum(r["status"] == "error" for r in items)),
        )
        for r in items:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"redteam.{cat}",
                name=f"{r['probe']}[{r.get('buff', 'none')}:{r['id'][:8]}]",
                time=f"{float(r.get('seconds', 0)):.3f}",
            )
            if r["status"] == "fail":
                node = ET.SubElement(case, "failure", message=_clean(_why(r), 500), type="attack")
                node.text = _clean(
                    f"prompt:\n{r.get('prompt', '')}\n\nresponse:\n{r.get('response', '')}"
                )
            elif r["status"] == "error":
                ET.SubElement(case, "error", message=_clean(r.get("error", ""), 500), type="target")
    gates = summary.get("gates", [])
    suite = ET.SubElement(
        suites,
        "testsuite",
        name="redteam.gates",
        tests=str(len(gates)),
        failures=str(sum(not g["passed"] for g in gates)),
        errors="0",
    )
    for g in gates:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="redteam.gates",
            name=f"failure_rate[{g['scope']}] <= {g['max']}",
        )
        if not g["passed"]:
            ET.SubElement(
                case, "failure", type="gate", message=f"failure rate {g['actual']} > {g['max']}"
            )
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )


def to_sarif(records: Iterable[Mapping[str, Any]], probes: Mapping[str, Mapping[str, Any]]) -> str:
    """One SARIF result per failed attempt; one rule per probe, tagged OWASP and ATLAS."""
    failed = [r for r in records if r.get("status") == "fail"]
    used = sorted({r["probe"] for r in failed})
    rules = []
    for pid in used:
        p = probes.get(pid, {})
        tags = [*p.get("owasp", []), *p.get("atlas", []), "security"]
        names = [f"{o} {OWASP_LLM_2025.get(o, '')}".strip() for o in p.get("owasp", [])]
        rules.append(
            {
                "id": pid,
                "name": pid,
                "shortDescription": {"text": p.get("goal") or pid},
                "fullDescription": {
                    "text": f"{p.get('category', '')}: {p.get('goal', '')}. "
                    f"OWASP: {', '.join(names) or '-'}; "
                    f"ATLAS: {', '.join(p.get('atlas', [])) or '-'}"
                },
                "defaultConfiguration": {"level": "error"},
                "properties": {"tags": tags, "category": p.get("category", "")},
            }
        )
    index = {pid: i for i, pid in enumerate(used)}
    results = [
        {
            "ruleId": r["probe"],
            "ruleIndex": index[r["probe"]],
            "level": "error",
            "message": {
                "text": f"{r.get('category')} attack succeeded (buff {r.get('buff')}): {_why(r)}"
            },
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f"probes/{r.get('pack') or 'probes'}.yaml"}
                    }
                }
            ],
            "partialFingerprints": {"attempt": r["id"]},
            "properties": {
                "attempt": r["id"],
                "buff": r.get("buff"),
                "owasp": r.get("owasp", []),
                "atlas": r.get("atlas", []),
            },
        }
        for r in failed
    ]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "bastion-redteam",
                        "version": __version__,
                        "informationUri": "https://github.com/bastion-ml/bastion",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_all(
    out_dir: Any,
    records: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    probes: Mapping[str, Mapping[str, Any]],
) -> dict[str, str]:
    """summary.json, report.html, junit.xml and results.sarif in ``out_dir``; their paths."""
    from pathlib import Path

    from bastion.redteam.html import to_html

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "summary": ("summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n"),
        "html": ("report.html", to_html(records, summary)),
        "junit": ("junit.xml", to_junit(records, summary)),
        "sarif": ("results.sarif", to_sarif(records, probes)),
    }
    written = {}
    for key, (name, text) in files.items():
        (out / name).write_text(text, encoding="utf-8")
        written[key] = str(out / name)
    return written
