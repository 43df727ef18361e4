"""SARIF 2.1.0, for code-scanning dashboards (GitHub, GitLab, Azure DevOps)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bastion import __version__
from bastion.models import SARIF_LEVEL as _LEVEL
from bastion.models import SARIF_SCHEMA
from bastion.models import SARIF_SCORE as _SCORE
from bastion.scan.base import ScanReport


def to_sarif(report: ScanReport) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for finding in report.findings:
        rule = rules.setdefault(
            finding.rule,
            {
                "id": finding.rule,
                "name": finding.rule.replace(".", "/"),
                "shortDescription": {"text": finding.rule},
                "properties": {"security-severity": _SCORE[finding.severity]},
            },
        )
        if float(_SCORE[finding.severity]) > float(rule["properties"]["security-severity"]):
            rule["properties"]["security-severity"] = _SCORE[finding.severity]
        loc = finding.location
        logical = "!".join(loc.members)
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "level": _LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": Path(loc.path).as_posix()},
                        **(
                            {"region": {"byteOffset": loc.offset, "byteLength": 1}}
                            if loc.offset is not None and not loc.members
                            else {}
                        ),
                    },
                    **(
                        {"logicalLocations": [{"fullyQualifiedName": logical, "kind": "member"}]}
                        if logical
                        else {}
                    ),
                }
            ],
            "properties": {"severity": finding.severity.label, **dict(finding.details)},
        }
        results.append(result)
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{e.location}: {e.message}"},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": e.location.path}}}],
        }
        for e in report.errors
    ]
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "bastion",
                        "version": __version__,
                        "informationUri": "https://github.com/bastion-ml/bastion",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
                "invocations": [
                    {
                        "executionSuccessful": not report.errors,
                        "toolExecutionNotifications": notifications,
                    }
                ],
            }
        ],
    }
    return json.dumps(doc, indent=2, default=str)
