"""Helpers shared by the per-format tests: scan bytes or a folder, read back rules."""

from __future__ import annotations

from pathlib import Path

from bastion.config import ScanLimits
from bastion.models import Severity
from bastion.scan import FileResult, Policy, Status
from bastion.scan._engine import scan_file

_POLICY = Policy.load()


def scan(path: Path) -> FileResult:
    return scan_file(str(path), _POLICY, ScanLimits())


def scan_bytes(tmp_path: Path, data: bytes, name: str = "model.bin") -> FileResult:
    path = tmp_path / name
    path.write_bytes(data)
    return scan(path)


def rules(result: FileResult) -> set[str]:
    return {f.rule for f in result.findings}


def assert_clean(result: FileResult) -> None:
    assert result.status is Status.CLEAN, (result.findings, result.errors)


def assert_flagged(result: FileResult, rule: str, at_least: Severity = Severity.MEDIUM) -> None:
    assert rule in rules(result), (result.findings, result.errors)
    assert any(f.rule == rule and f.severity >= at_least for f in result.findings)
