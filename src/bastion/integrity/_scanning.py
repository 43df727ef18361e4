"""Scan bytes already in memory with the model scanner (no second read from disk):
safe loading must scan the very bytes it deserializes."""

from __future__ import annotations

import io

from bastion.errors import VerificationError
from bastion.models import Severity
from bastion.scan import scan_stream


class UnsafeModelError(VerificationError):
    """The scanner found code injection (or could not read the file to the end)."""

    hint = "Do not load this file; run `bastion scan` on it for the details."


def scan_bytes(data: bytes, name: str, *, fail_on: Severity = Severity.MEDIUM) -> None:
    """Return None when ``data`` scans clean below ``fail_on``; else raise UnsafeModelError."""
    result = scan_stream(io.BytesIO(data), name)  # BytesIO shares, never copies, the bytes
    if result.errors:
        message = result.errors[0].message
        raise UnsafeModelError(f"{name}: could not be scanned to the end: {message}")
    bad = [f for f in result.findings if f.severity >= fail_on]
    if bad:
        worst = max(bad, key=lambda f: f.severity)
        raise UnsafeModelError(
            f"{name}: {len(bad)} scanner finding(s), worst {worst.severity.label}: {worst.message}"
        )
