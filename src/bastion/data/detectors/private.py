"""Secrets and personal data in records, with the guard's detectors (one pass).

Secrets (keys, tokens, private keys) are HIGH: they must never be trained into a
model that can repeat them. Personal data is MEDIUM. Examples in the report are
redacted, so the report itself leaks nothing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from bastion.data.base import DataFinding, Record, Row
from bastion.data.detectors._collect import MAX_ROWS, Rows
from bastion.guard.base import Span
from bastion.guard.pii import PII_PATTERNS, find_pii
from bastion.guard.secrets import find_secrets, redact
from bastion.models import Severity


def private_spans(text: str) -> list[Span]:
    """Secrets first, then personal data not inside a secret."""
    spans = find_secrets(text)  # both skip, cheaply, what no pattern of theirs can match
    for s in find_pii(text):
        if not any(s.start < t.end and t.start < s.end for t in spans):
            spans.append(s)
    return sorted(spans, key=lambda s: s.start)


def redact_text(text: str) -> str:
    spans = private_spans(text)
    return redact(text, spans) if spans else text


class PrivateData:
    """API keys, tokens, private keys, e-mail addresses, phone numbers, cards, IBANs..."""

    name: ClassVar[str] = "private"
    #: The most passes it takes (the engine keeps a small dataset in memory for more than 1).
    passes: ClassVar[int] = 1

    def __init__(self, *, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self.groups: dict[tuple[str, str], Rows] = {}

    def begin(self, pass_no: int) -> bool:
        return pass_no == 1

    def observe(self, row: Row) -> None:
        record = row.record
        redacted: Record | None = None
        for field in ("prompt", "response"):
            text = getattr(record, field)
            spans = private_spans(text)
            for label in dict.fromkeys(s.label for s in spans):
                kind = "pii" if _is_pii(label) else "secret"
                if redacted is None:
                    redacted = replace(
                        record,
                        prompt=redact_text(record.prompt),
                        response=redact_text(record.response),
                    )
                group = self.groups.setdefault((kind, label), Rows(self.max_rows))
                if not group.indices or group.indices[-1] != record.index:
                    group.add(redacted)

    def findings(self) -> list[DataFinding]:
        out = []
        for (kind, label), rows in sorted(self.groups.items()):
            secret = kind == "secret"
            out.append(
                rows.finding(
                    f"{kind}.{label}",
                    Severity.HIGH if secret else Severity.MEDIUM,
                    f"{rows.count} row(s) contain {'a secret' if secret else 'personal data'}"
                    f" ({label}); redact them (--write-redacted) or drop them",
                    0.95 if secret else 0.8,
                    {"kind": label},
                )
            )
        return out


_PII = frozenset(kind for kind, _, _ in PII_PATTERNS)


def _is_pii(label: str) -> bool:
    return label in _PII
