"""Judging one FileResult against a corpus case's expectation, with readable failures."""

from __future__ import annotations

from pathlib import Path

from bastion.models import Finding, Severity
from bastion.scan import FileResult, Status, scan_path

from .corpus._types import Expect


def scan_one(path: Path) -> FileResult:
    """Scan a single file in-process and return its only result."""
    report = scan_path(path, workers=1)
    assert len(report.files) == 1, describe_files(report.files)
    result = report.files[0]
    assert Path(result.path).name == path.name, result.path
    return result


def describe(result: FileResult) -> str:
    lines = [
        f"{result.path}: status={result.status} formats={result.formats} skipped={result.skipped}"
    ]
    lines += [
        f"  finding {f.rule} {f.severity.name} global={f.details.get('global')!r} "
        f"at {f.location}: {f.message}"
        for f in result.findings
    ]
    lines += [f"  error at {e.location}: {e.message}" for e in result.errors]
    return "\n".join(lines)


def describe_files(results: tuple[FileResult, ...]) -> str:
    return "\n".join(describe(r) for r in results)


def critical_globals(result: FileResult) -> set[str]:
    return {
        str(f.details["global"])
        for f in result.findings
        if f.severity is Severity.CRITICAL and "global" in f.details
    }


def unmet(expect: Expect, result: FileResult) -> list[str]:
    """Why ``result`` does not meet ``expect``; empty when it does."""
    status = result.status
    if status in (Status.CLEAN, Status.SKIPPED):
        return [f"malicious file came out {status}"]
    floor = Severity.parse(expect.min_severity)
    if status is Status.FINDINGS and (result.max_severity or Severity.INFO) < floor:
        return [f"worst finding is {result.max_severity!r}, below {floor.name}"]
    reasons: list[str] = []
    found = critical_globals(result)
    if expect.critical:
        missing = [g for g in expect.critical if not found & set(g.split("|"))]
        if not missing:
            return []
        reasons.append(f"no CRITICAL finding for {missing} (CRITICAL globals: {sorted(found)})")
    if expect.rules:
        if any(_rule_matches(f, expect.rules, floor) for f in result.findings):
            return []
        reasons.append(f"no finding with a rule starting {expect.rules} at {floor.name}+")
    if expect.error_ok:
        if status is Status.ERROR:
            return []
        reasons.append("status is not ERROR")
    return reasons


def _rule_matches(finding: Finding, prefixes: tuple[str, ...], floor: Severity) -> bool:
    return finding.rule.startswith(prefixes) and finding.severity >= floor


def is_subsequence(needle: tuple[str, ...], hay: tuple[str, ...]) -> bool:
    it = iter(hay)
    return all(any(x == y for y in it) for x in needle)
