"""Model scanning: find code injection in model files before anything loads them.

>>> from bastion.scan import scan_path
>>> report = scan_path("model.pt")            # doctest: +SKIP
>>> report.exit_code()                        # doctest: +SKIP

The scanner decides the format from content, never from the file name, executes
pickle opcode streams symbolically, and never imports, unpickles or runs what it reads.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from bastion.config import ScanLimits, ScanSettings
from bastion.scan._engine import Progress, iter_files
from bastion.scan._engine import run as _run
from bastion.scan._engine import scan_stream as _scan_stream
from bastion.scan._policy import Decision, Policy
from bastion.scan.base import (
    REPORT_SCHEMA_VERSION,
    FileResult,
    FormatScanner,
    ScanIssue,
    ScanReport,
    Status,
)


def scan_path(
    *paths: str | os.PathLike[str],
    policy_files: Sequence[Path] = (),
    settings: ScanSettings | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> ScanReport:
    """Scan files and directories (recursively); return a frozen :class:`ScanReport`.

    ``workers`` defaults to one process per CPU core; ``policy_files`` extend the
    shipped policy. Content problems never raise: they are errors in the report.
    """
    if not paths:
        raise ValueError("scan_path needs at least one path")
    base = settings or ScanSettings()
    if policy_files or workers is not None:
        from dataclasses import replace

        base = replace(
            base,
            policy_files=(*base.policy_files, *policy_files),
            workers=base.workers if workers is None else workers,
        )
    return _run(list(paths), base, progress)


def scan_stream(
    stream: BinaryIO,
    name: str,
    *,
    policy: Policy | None = None,
    limits: ScanLimits | None = None,
) -> FileResult:
    """Scan one open binary stream to its end, e.g. the exact bytes about to be loaded.

    Returns the same :class:`FileResult` a file scan gives, reported under ``name``.
    """
    return _scan_stream(stream, name, policy or Policy.load(), limits or ScanLimits())


__all__ = [
    "REPORT_SCHEMA_VERSION",
    "Decision",
    "FileResult",
    "FormatScanner",
    "Policy",
    "Progress",
    "ScanIssue",
    "ScanReport",
    "Status",
    "iter_files",
    "scan_path",
    "scan_stream",
]
