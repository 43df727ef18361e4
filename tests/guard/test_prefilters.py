"""The secret and personal-data finders skip, by cheap substring and digit tests, only
text that none of their patterns can match: with and without the prefilters, the same
spans, on text built to sit at the edges (anchors without the rest, Unicode digits,
the characters ``(?i)`` folds to ASCII). The same for the decoders' one-pass
shortcuts, the output rules' literals and the patterns' keyword pass."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.guard import encoding, exfiltration, patterns, pii, secrets
from bastion.guard.base import Context, Span

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


# -- decoders, output rules and patterns -------------------------------------------

HEXISH = st.lists(
    st.sampled_from(["de", "ad", "BE", "ef", "0x", "\\x", "41", "7", " ", ":", ",", "-", "\n",
                     "g", "48656c6c6f", "00"]) | st.text(max_size=3),
    max_size=40,
).map("".join)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(HEXISH)
def test_every_hex_run_contains_the_core_the_decoder_looks_for_first(text: str) -> None:
    for m in encoding._HEX.finditer(text):
        assert encoding._HEX_CORE.search(m.group()) is not None, m.group()


def _reference_leet(text: str) -> list[str]:
    out = []
    for seg in encoding._SEGMENTS.split(text):
        words = encoding._LEET_WORD.findall(seg)
        leet = [w for w in words if not w.isdigit() and "@" not in w[1:-1]]
        leet = [w for w in leet if any(not c.isalpha() for c in w)]
        if len(leet) >= 2 and len(leet) >= 0.25 * max(1, len(encoding._WORD.findall(seg))):
            decoded = encoding._LEET_WORD.sub(lambda m: m.group().translate(encoding._LEET), seg)
            if encoding._english(decoded) > encoding._english(seg):
                out.append(decoded)
    return ["\n".join(out)] if out else []


def _reference_spaced(text: str) -> list[str]:
    out = []
    for seg in encoding._SEGMENTS.split(text):
        if len(encoding._SPACED.findall(seg)) >= 3:
            out.append(encoding._SPACED.sub(lambda m: re.sub(r"[-_.* ]", "", m.group()), seg))
    return ["\n".join(out)] if out else []


WORDY = st.lists(
    st.sampled_from(["h0w", "t0", "m4k3", "th3", "w0rld!", "1337", "p4$$", "a@b", "@dm1n", "the",
                     "and", "you", "h-o-w", "t.o", "m a k e", " ", "  ", ". ", "! ", "? ", ": ",
                     "\n", "\n\n", "é", "_", "|", "x"]),
    max_size=30,
).map("".join)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(WORDY)
def test_leet_and_spaced_decoders_match_a_scan_of_every_segment(text: str) -> None:
    item = encoding._Text(text)
    assert encoding._leet(item) == _reference_leet(text)
    assert encoding._spaced(item) == _reference_spaced(text)


MARKUP = st.lists(
    st.sampled_from(["<", ">", "=", "](", "]:", ":", "(", "[x]", "![a]", "<script", "< SCRIPT",
                     "<img src=", "http://evil.example/?q=", "A" * 30, "onload", " onerror=",
                     "javascript", "href=", "vbscript:", "<iframe", "<meta http-equiv=refresh",
                     "<form", "<svg onload=", "data:text/html", "\n", " ", "[ref]: "]),
    max_size=20,
).map("".join)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(MARKUP)
def test_output_rules_skip_only_text_their_patterns_cannot_match(text: str) -> None:
    spans = sorted(
        (Span(m.start(), m.end(), kind) for kind, p in exfiltration._ACTIVE_HTML
         for m in p.finditer(text)),
        key=lambda s: s.start,
    )  # fmt: skip
    found = exfiltration.ActiveContentRule().check(text, Context())
    if "<" in text or "script" in text.lower():
        assert found.spans == tuple(spans)
    for pattern, literal in exfiltration._NEEDS.items():
        if pattern.search(text):
            assert literal in text


KEYWORDS = sorted({w for ws in patterns.KEYWORDS.values() for w in ws} | {"x", " ", "IGNORE"})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(KEYWORDS), max_size=12).map("".join))
def test_one_keyword_pass_finds_what_a_search_per_keyword_finds(text: str) -> None:
    low = text.lower()
    present = patterns._KEYWORD_SET.found(low)
    for words in patterns.KEYWORDS.values():
        assert (not present.isdisjoint(words)) == any(w in low for w in words)
