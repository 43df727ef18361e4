"""Pin the curated public API, so that changing it is a deliberate act."""

from __future__ import annotations

import bastion
import bastion.scan


def test_top_level_exports() -> None:
    assert sorted(bastion.__all__) == [
        "BastionError",
        "Details",
        "Finding",
        "Location",
        "Severity",
        "__version__",
    ]


def test_scan_exports() -> None:
    assert sorted(bastion.scan.__all__) == [
        "Decision",
        "FileResult",
        "FormatScanner",
        "Policy",
        "Progress",
        "REPORT_SCHEMA_VERSION",
        "ScanIssue",
        "ScanReport",
        "Status",
        "iter_files",
        "scan_path",
        "scan_stream",
    ]
    for name in bastion.scan.__all__:
        assert getattr(bastion.scan, name) is not None
