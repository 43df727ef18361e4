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

from bastion.guard.anchors import AnchorSet
from bastion.guard.base import Context, Direction, RuleResult, Span

#: (kind, pattern, anchors). Every match of a pattern contains one of its anchors (case
#: as written), so a pattern runs only on text that contains one (found for all patterns
#: in one pass), while a pattern that starts with ``\b`` is tried at every position
#: (about 4 µs per 200 characters each). Most text has no anchor at all.
SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("private-key", re.compile(
        r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----"
        r"[\s\S]{0,8000}?(?:-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|$)"), ("-----BEGIN ",)),
    ("aws-access-key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
     ("AKIA", "ASIA", "ABIA", "ACCA")),
    ("github-token", re.compile(
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{60,255})\b"),
     ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    ("gitlab-token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"), ("glpat-",)),
    ("openai-key", re.compile(
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}\b|"
        r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}\b"), ("sk-",)),
    ("anthropic-key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{32,}\b"), ("sk-ant-",)),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"), ("xox",)),
    ("stripe-key", re.compile(r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}\b"),
     ("k_live_", "k_test_")),
    ("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), ("AIza",)),
    ("huggingface-token", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"), ("hf_",)),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"),
     ("eyJ",)),
    ("bastion-key", re.compile(r"\bbst_[A-Za-z0-9_-]{32,}\b"), ("bst_",)),
)  # fmt: skip

_GENERIC = re.compile(
    r"(?i)\b(?:api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|"
    r"client[_-]?secret|password|passwd|pwd|token|bearer)\b[\"']?\s*(?::|=|=>|\s)\s*[\"']?"
    r"(?P<value>[A-Za-z0-9+/_\-.~=!@#$%^&*]{16,200})"
)
#: Every keyword of ``_GENERIC`` contains one of these once ASCII text is lower-cased.
#: Non-ASCII text always runs the pattern: under ``(?i)`` the long s, the dotless i and
#: the Kelvin sign match ASCII letters, which no lower-casing reproduces exactly.
_GENERIC_ANCHORS = ("apikey", "api_key", "api-key", "secret", "token", "passw", "pwd", "bearer")
_CLASSES = tuple(re.compile(p) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))


_ANCHORS = AnchorSet(a for _, _, anchors in SECRET_PATTERNS for a in anchors)
_GENERIC_SET = AnchorSet(_GENERIC_ANCHORS)


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


def find_secrets(text: str, *, min_entropy: float = 3.5) -> list[Span]:
    spans: list[Span] = []
    present = _ANCHORS.found(text)  # one pass for every pattern's anchors
    if present:
        for kind, pattern, anchors in SECRET_PATTERNS:
            if not present.isdisjoint(anchors):
                spans.extend(Span(m.start(), m.end(), kind) for m in pattern.finditer(text))
    if not text.isascii() or _GENERIC_SET.any_in(text.lower()):
        for m in _GENERIC.finditer(text):
            value = m.group("value")
            classes = sum(bool(p.search(value)) for p in _CLASSES)
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
