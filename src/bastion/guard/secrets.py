"""Secrets: API keys, tokens and private keys, with an entropy check for generic ones.

Providers' keys have fixed shapes (``AKIA`` + 16, ``ghp_`` + 36...), so a match is
enough. A generic assignment (``api_key = "..."``, ``Authorization: Bearer ...``) is
a secret only when its value looks random: long enough, with Shannon entropy of at
least ``min_entropy`` bits per character, so ``password = "changeme"`` and
placeholders like ``<YOUR_KEY>`` pass. Matches are redacted as ``[REDACTED:<kind>]``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import ClassVar

from bastion.guard.base import Context, Direction, RuleResult, Span

SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("private-key", re.compile(
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----"
        r"[\s\S]{0,8000}?(?:-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|$)")),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    ("github-token", re.compile(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b")),
    ("gitlab-token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b")),
    ("openai-key", re.compile(
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}\b|"
        r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}\b")),
    ("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{32,}\b")),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),
    ("stripe-key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b")),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("huggingface-token", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b")),
    ("bastion-key", re.compile(r"\bbst_[A-Za-z0-9_-]{32,}\b")),
)  # fmt: skip

_GENERIC = re.compile(
    r"(?i)\b(?:api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|"
    r"client[_-]?secret|password|passwd|pwd|token|bearer)\b[\"']?\s*(?::|=|=>|\s)\s*[\"']?"
    r"(?P<value>[A-Za-z0-9+/_\-.~=!@#$%^&*]{16,200})"
)


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def find_secrets(text: str, *, min_entropy: float = 3.5) -> list[Span]:
    spans: list[Span] = []
    for kind, pattern in SECRET_PATTERNS:
        spans.extend(Span(m.start(), m.end(), kind) for m in pattern.finditer(text))
    for m in _GENERIC.finditer(text):
        value = m.group("value")
        classes = sum(
            bool(re.search(p, value)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]")
        )
        if entropy(value) >= min_entropy and classes >= 2:
            spans.append(Span(m.start("value"), m.end("value"), "generic-secret"))
    return _merge(spans)


def _merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, -s.end)):
        if out and s.start < out[-1].end:
            if s.end > out[-1].end:
                out[-1] = Span(out[-1].start, s.end, out[-1].label)
            continue
        out.append(s)
    return out


def redact(text: str, spans: list[Span], template: str = "[REDACTED:{label}]") -> str:
    parts: list[str] = []
    last = 0
    for s in spans:
        parts.append(text[last : s.start])
        parts.append(template.format(label=s.label))
        last = s.end
    parts.append(text[last:])
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class SecretsRule:
    """API keys, tokens and private keys in a prompt or a response."""

    name: ClassVar[str] = "secrets"
    directions: ClassVar[frozenset[Direction]] = frozenset(Direction)

    min_entropy: float = 3.5

    def check(self, text: str, ctx: Context) -> RuleResult:
        spans = find_secrets(text, min_entropy=self.min_entropy)
        if not spans:
            return RuleResult.clean(self.name)
        return RuleResult(
            rule=self.name,
            triggered=True,
            score=0.95,
            reason="secret." + spans[0].label,
            spans=tuple(spans),
            redacted=redact(text, spans),
        )
