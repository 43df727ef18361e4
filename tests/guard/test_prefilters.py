"""The secret and personal-data finders skip, by cheap substring and digit tests, only
text that none of their patterns can match: with and without the prefilters, the same
spans, on text built to sit at the edges (anchors without the rest, Unicode digits,
the characters ``(?i)`` folds to ASCII)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.guard import pii, secrets
from bastion.guard.base import Span

PIECES = [
    "AKIA", "ASIA", "ghp_", "github_pat_", "glpat-", "sk-", "sk-ant-", "sk-proj-", "xoxb-",
    "sk_live_", "rk_test_", "AIza", "hf_", "eyJ", "bst_", "T3BlbkFJ", "-----BEGIN ",
    "RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "api_key", "API-KEY", "apikey",
    "secret", "token", "Passwd", "pwd", "Bearer", "paſſword", "toKen", "apı_key", ": ", "=",
    " ", "\n", "@", "example.com", ".", "-", "+44 ", "(020) ", "٣", "１", "0", "1", "4111",
    "GB82", "WEST", "078-05-1120", "8.8.8.8", "aZ9_-", "Qx7/+=", "abcdefghij",
    "ABCDEFGHIJKLMNOP", "0123456789", "Z" * 16,
]  # fmt: skip
TEXT = st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=24).map("".join)


def _reference_secrets(text: str) -> list[Span]:
    spans: list[Span] = []
    for kind, pattern, _anchors in secrets.SECRET_PATTERNS:
        spans.extend(Span(m.start(), m.end(), kind) for m in pattern.finditer(text))
    for m in secrets._GENERIC.finditer(text):
        value = m.group("value")
        classes = sum(bool(p.search(value)) for p in secrets._CLASSES)
        if secrets.entropy(value) >= 3.5 and classes >= 2:
            spans.append(Span(m.start("value"), m.end("value"), "generic-secret"))
    return secrets._merge(spans)


def _reference_pii(text: str) -> list[Span]:
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern, check in pii.PII_PATTERNS:
        for m in pattern.finditer(text):
            if check is not None and not check(m.group()):
                continue
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            spans.append(Span(m.start(), m.end(), kind))
    return sorted(spans, key=lambda s: s.start)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_prefiltered_finders_match_the_patterns_run_everywhere(text: str) -> None:
    assert secrets.find_secrets(text) == _reference_secrets(text)
    assert pii.find_pii(text) == _reference_pii(text)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("key AKIAABCDEFGHIJKLMNOP here", "aws-access-key"),
        ("paſſword = 'Zx9!kQ2#vL7@pM4$wR8'", "generic-secret"),  # (?i) folds the long s
        ("card ４１１１ １１１１ １１１１ １１１１", "credit-card"),  # full-width digits are \d
        ("mail me: a.b@example.org", "email"),
    ],
)
def test_edges_the_prefilters_must_not_skip(text: str, label: str) -> None:
    found = secrets.find_secrets(text) + pii.find_pii(text)
    assert label in {s.label for s in found}, found
