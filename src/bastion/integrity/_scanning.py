"""Scan bytes already in memory with the model scanner (no second read from disk).

``bastion.scan`` scans paths; safe loading must scan the very bytes it deserializes,
so this adapter drives the scanner's per-file context over an in-memory stream, exactly
as ``scan_file`` does over an open file.
"""

from __future__ import annotations

import io

from bastion.config import ScanLimits
from bastion.errors import VerificationError
from bastion.models import Location, Severity
from bastion.scan import Policy
from bastion.scan._context import ScanContext
from bastion.scan._registry import default_scanners


class UnsafeModelError(VerificationError):
    """The scanner found code injection (or could not read the file to the end)."""

    hint = "Do not load this file; run `bastion scan` on it for the details."


def scan_bytes(data: bytes, name: str, *, fail_on: Severity = Severity.MEDIUM) -> None:
    """Return None when ``data`` scans clean below ``fail_on``; else raise UnsafeModelError."""
    ctx = ScanContext(Policy.load(), ScanLimits(), default_scanners())
    ctx.scan_stream(io.BytesIO(data), Location(name), top=True)  # shares, never copies, bytes
    if ctx.errors:
        raise UnsafeModelError(f"{name}: could not be scanned to the end: {ctx.errors[0].message}")
    bad = [f for f in ctx.findings if f.severity >= fail_on]
    if bad:
        worst = max(bad, key=lambda f: f.severity)
        raise UnsafeModelError(
            f"{name}: {len(bad)} scanner finding(s), worst {worst.severity.label}: {worst.message}"
        )
