"""The JSON report. Its schema is ``docs/scan-report.schema.json``; ``schema_version``
changes its major number only when a field is removed or changes meaning."""

from __future__ import annotations

import json as _json
from typing import Any

from bastion import __version__
from bastion.models import Severity
from bastion.scan.base import REPORT_SCHEMA_VERSION, ScanReport, Status


def to_dict(report: ScanReport, fail_on: Severity = Severity.MEDIUM) -> dict[str, Any]:
    files = [
        {
            "path": r.path,
            "size": r.size,
            "status": r.status.value,
            "formats": list(r.formats),
            "skipped_reason": r.skipped,
            "max_severity": r.max_severity.label if r.max_severity is not None else None,
            "seconds": round(r.seconds, 6),
            "findings": [f.to_dict() for f in r.findings],
            "errors": [e.to_dict() for e in r.errors],
        }
        for r in report.files
    ]
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "tool": {"name": "bastion", "version": __version__},
        "summary": {
            "files": len(report.files),
            "clean": report.count(Status.CLEAN),
            "with_findings": report.count(Status.FINDINGS),
            "errors": report.count(Status.ERROR),
            "skipped": report.count(Status.SKIPPED),
            "findings": len(report.findings),
            "max_severity": report.max_severity.label if report.max_severity else None,
            "fail_on": fail_on.label,
            "exit_code": report.exit_code(fail_on),
            "seconds": round(report.seconds, 6),
        },
        "policy": list(report.policy_sources),
        "files": files,
    }


def to_json(report: ScanReport, fail_on: Severity = Severity.MEDIUM) -> str:
    return _json.dumps(to_dict(report, fail_on), indent=2, ensure_ascii=False, default=str)
