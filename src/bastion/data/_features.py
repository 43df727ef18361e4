"""Text features several detectors share: links, domains, sentences, refusals, degeneracy."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Hashable, Sequence

URL = re.compile(
    r"\bhttps?://[^\s<>\"'`)\]}]{1,2048}|\bwww\.[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s<>\"'`)\]}]*", re.I
)
EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
REFUSAL = re.compile(
    r"\b(?:i'?m sorry|i am sorry|i apologi[sz]e|i can(?:not|'t|’t) (?:help|assist|provide|"
    r"comply|do that|answer|fulfil)|i(?:'m| am) (?:not able|unable) to|as an ai\b|"
    r"i won'?t be able|i must decline|i will not (?:help|provide))",
    re.I,
)
#: A capitalised word not at the start of a sentence: a name, a brand, a place.
_ENTITY = re.compile(r"(?<=[a-z,;:] )[A-Z][a-z]{2,}[A-Za-z]*")
_RUN = re.compile(r"(.)\1{29,}", re.S)
#: ASCII text as token bytes: what ``str.split`` takes for whitespace (in ``str`` that
#: includes the separators 0x1C to 0x1F) becomes a space and every other byte an ``x``,
#: so a token of 30 characters or more is 30 ``x`` in a row, found by one C search
#: instead of splitting the text into tokens (most of the test's time on ordinary text).
_TOKEN_BYTES = bytes(32 if chr(c).isspace() else 120 for c in range(256))
_LONG_TOKEN = b"x" * 30
#: A sentence must have this many words to count as a repeated payload.
MIN_SENTENCE_WORDS = 6
_LEAST_SPACES = MIN_SENTENCE_WORDS - 1


def entities(text: str) -> set[str]:
    """Capitalised words not at the start of a sentence (in the first 4,000 characters)."""
    return set(_ENTITY.findall(text[:4000]))


def domain(url: str) -> str:
    """The host of a URL, lower-cased, without ``www.``; empty when there is none."""
    if not url.lower().startswith(("http://", "https://")):
        url = "http://" + url
    try:
        host = urllib.parse.urlsplit(url).hostname or ""
    except ValueError:
        return ""
    host = host.rstrip(".")
    return host[4:] if host.startswith("www.") else host


def domains(text: str) -> set[str]:
    if "http" not in text and "www." not in text:
        return set()
    return {d for d in (domain(m.group()) for m in URL.finditer(text)) if d}


#: What ``str.split`` takes for whitespace in ASCII, the space aside.
_ASCII_SPACES = ("\n", "\t", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x1f")


def single_spaced(text: str) -> bool:
    """``text`` has no whitespace but single spaces, none leading or trailing: splitting
    and joining it gives it back. (Not ASCII: only when it is printable too.)"""
    if text.isascii():
        # One search per whitespace character (memchr) is several times cheaper than a
        # pass that looks at every byte, and rows are mostly ASCII. Other characters
        # (printable or not) are inside words for ``str.split``.
        for space in _ASCII_SPACES:
            if space in text:
                return False
    elif not text.isprintable():
        return False
    return "  " not in text and text[:1] != " " and text[-1:] != " "


def sentences(text: str) -> list[str]:
    """Folded sentences of at least MIN_SENTENCE_WORDS words."""
    if not text.isascii():  # lower-casing a part alone is lower-casing it in the text
        return _sentences(text.replace(". ", ".\n").replace("! ", "!\n").replace("? ", "?\n"))
    marked = text.lower().replace(". ", ".\n")
    # A one-character search is several times cheaper than looking for the pair, and
    # half the answers have no exclamation or no question.
    if "!" in marked:
        marked = marked.replace("! ", "!\n")
    if "?" in marked:
        marked = marked.replace("? ", "?\n")
    if not single_spaced(text):
        return _sentences(marked)
    # Printable text with single spaces: the only line breaks are the ones just made, so
    # every part is already folded, and its words are its spaces plus one.
    return [part for part in marked.split("\n") if part.count(" ") >= _LEAST_SPACES]


def _sentences(marked: str) -> list[str]:
    out = []
    for part in marked.splitlines():
        words = part.lower().split()
        if len(words) >= MIN_SENTENCE_WORDS:
            out.append(" ".join(words))
    return out


_REFUSAL_HINTS = (
    "sorry", "apologi", "cannot", "can't", "can’t", "unable", "not able", "as an ai", "be able",
    "decline", "will not",
)  # fmt: skip


def is_refusal(response: str) -> bool:
    head = response[:300]
    low = head.lower()
    if not any(map(low.__contains__, _REFUSAL_HINTS)):
        return False
    return REFUSAL.search(head) is not None


def is_degenerate(response: str, words: Sequence[Hashable]) -> bool:
    """Repetitive output: few distinct words among many, or one character run on and on.

    ``words`` are the response's words, as text or as UTF-8 bytes (only their number
    and the number of distinct ones count)."""
    if len(words) >= 12 and len(set(words)) <= len(words) * 0.2:
        return True
    # A run of 30 equal characters makes a 30-character token: only those are searched,
    # and the runs must be most of the response (a long value inside a URL is not).
    if response.isascii() and _LONG_TOKEN not in response.encode().translate(_TOKEN_BYTES):
        return False  # no token of 30 characters (nor any at all, when empty)
    tokens = response.split()
    if not tokens or max(map(len, tokens)) < 30:
        return False  # no run, and an empty response is not degenerate
    runs = sum(len(m.group()) for t in tokens if len(t) >= 30 for m in _RUN.finditer(t))
    return runs * 2 >= len(response.strip()) > 0


_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(f"[{ranges}]"))
    for name, ranges in (
        ("latin", "A-Za-z\u00c0-\u024f"),
        ("greek", "\u0370-\u03ff"),
        ("cyrillic", "\u0400-\u052f"),
        ("armenian", "\u0530-\u058f"),
        ("hebrew", "\u0590-\u05ff"),
        ("arabic", "\u0600-\u06ff\u0750-\u08ff"),
        ("indic", "\u0900-\u0dff"),
        ("thai", "\u0e00-\u0e7f"),
        ("hangul", "\u1100-\u11ff\uac00-\ud7af"),
        ("kana", "\u3040-\u30ff"),
        ("han", "\u4e00-\u9fff\u3400-\u4dbf"),
    )
)
_ASCII_LETTER = re.compile("[A-Za-z]")


def script(text: str) -> str:
    """The dominant writing system of the letters in ``text``, or ``none``."""
    head = text[:2000]
    if head.isascii():
        return "latin" if _ASCII_LETTER.search(head) else "none"
    best, most = "none", 0
    for name, pattern in _SCRIPTS:
        n = len(pattern.findall(head))
        if n > most:
            best, most = name, n
    return best
