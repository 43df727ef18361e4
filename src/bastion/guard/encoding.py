"""Encoded payloads: base64, hex, URL encoding, ROT13, leetspeak, reversed and spaced text.

:func:`expand` finds encoded segments, decodes those that turn into readable text and
recurses into the result, within bounds on depth, count and size, so a hostile input
cannot make it loop or allocate without limit. The rule hands the decoded views to
the later rules, which check them as they check the text itself.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from bastion.guard.base import Context, Direction, RuleResult

_B64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:(?:\\x|0x)?[0-9A-Fa-f]{2}[\s:,-]?){8,}")
#: Eight hex pairs as ``_HEX`` joins them, from the first pair on: every match of
#: ``_HEX`` contains one, and a search for it skips ahead to a hex digit, where
#: ``_HEX`` (which starts with a look-behind) is tried at every position.
_HEX_CORE = re.compile(r"[0-9A-Fa-f][0-9A-Fa-f](?:[\s:,-]?(?:\\x|0x)?[0-9A-Fa-f]{2}){7}")
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_PCT_RUN = re.compile(
    r"[^\s%]*(?:%[0-9A-Fa-f]{2}[^\s%]*){3,}(?:\s+[^\s%]*(?:%[0-9A-Fa-f]{2}[^\s%]*)+)*"
)
_SPACED = re.compile(r"\b(?:[A-Za-z][-_.*]){1,}[A-Za-z]\b|\b(?:[A-Za-z] ){3,}[A-Za-z]\b")
_LEET_WORD = re.compile(
    r"(?<![\w@$!|])(?=[A-Za-z0-9@$!|]*[A-Za-z])(?=[A-Za-z0-9@$!|]*[0-9@$!|])[A-Za-z0-9@$!|]{2,}(?![\w@$!|])"
)
_LEET = str.maketrans("0134578@$!|", "oieastbasil")
_WORDS_RE = re.compile(r"[a-z]+")
_WORD = re.compile(r"\w+")
_SEGMENTS = re.compile(r"\n+|(?<=[.!?:])\s+")
#: Frequent English words: decoded text that contains them reads as language.
_COMMON = frozenset(
    [
        "the",
        "be",
        "to",
        "of",
        "and",
        "a",
        "in",
        "that",
        "have",
        "i",
        "it",
        "for",
        "not",
        "on",
        "with",
        "he",
        "as",
        "you",
        "do",
        "at",
        "this",
        "but",
        "his",
        "by",
        "from",
        "they",
        "we",
        "say",
        "her",
        "she",
        "or",
        "an",
        "will",
        "my",
        "one",
        "all",
        "would",
        "there",
        "their",
        "what",
        "so",
        "up",
        "out",
        "if",
        "about",
        "who",
        "get",
        "which",
        "go",
        "me",
        "when",
        "make",
        "can",
        "like",
        "time",
        "no",
        "just",
        "him",
        "know",
        "take",
        "people",
        "into",
        "year",
        "your",
        "good",
        "some",
        "could",
        "them",
        "see",
        "other",
        "than",
        "then",
        "now",
        "look",
        "only",
        "come",
        "its",
        "over",
        "think",
        "also",
        "back",
        "after",
        "use",
        "two",
        "how",
        "our",
        "work",
        "first",
        "well",
        "way",
        "even",
        "new",
        "want",
        "because",
        "any",
        "these",
        "give",
        "day",
        "most",
        "us",
        "is",
        "are",
        "was",
        "were",
        "how",
        "tell",
        "write",
        "explain",
        "ignore",
        "instructions",
        "previous",
        "all",
        "system",
        "prompt",
        "steps",
        "make",
        "create",
        "please",
        "must",
        "should",
        "from",
        "here",
        "below",
        "above",
        "reveal",
        "password",
        "secret",
    ]
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """One decoded view: the text and the chain of decoders that produced it."""

    text: str
    chain: tuple[str, ...]


_IS_COMMON = _COMMON.__contains__


def _english(text: str) -> float:
    words = _WORDS_RE.findall(text.lower())
    if len(words) < 3:
        return 0.0
    return sum(map(_IS_COMMON, words)) / len(words)


class _Text:
    """One text being decoded, with what several decoders need computed once."""

    __slots__ = ("_gibberish", "_segments", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._segments: list[str] | None = None
        self._gibberish: list[tuple[str, float | None]] | None = None

    @property
    def segments(self) -> list[str]:
        """Lines and sentences."""
        if self._segments is None:
            self._segments = _SEGMENTS.split(self.text)
        return self._segments

    @property
    def gibberish(self) -> list[tuple[str, float | None]]:
        """What ROT13 and reversal are tried on: the whole text when it does not read as
        English, and lines or sentences that are themselves gibberish inside a text that
        is not; at most 16, each with its English score when known."""
        if self._gibberish is None:
            text = self.text
            found: list[tuple[str, float | None]] = (
                [(text, None)] if _english(text[:4000]) < 0.25 else []
            )
            for s in self.segments:
                if len(s) > 24:
                    score = _english(s)
                    if score < 0.1:
                        found.append((s, score))
                        if len(found) >= 16:
                            break
            self._gibberish = found[:16]
        return self._gibberish


def _readable(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if len(text) < 6:
        return None
    printable = sum(c.isprintable() or c in "\n\t\r" for c in text)
    letters = sum(c.isalpha() for c in text)
    if (
        printable < 0.95 * len(text)
        or letters < 0.5 * len(text.replace(" ", ""))
        or " " not in text
    ):
        return None
    return text


def _base64(item: _Text) -> list[str]:
    text = item.text
    out = []
    for m in _B64.finditer(text):
        seg = m.group()
        if seg.isalpha() and (seg.islower() or seg.isupper()):
            continue  # a plain long word, not base64
        padded = seg + "=" * (-len(seg) % 4)
        try:
            data = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        except (binascii.Error, ValueError):
            continue
        decoded = _readable(data) or _nested(data)
        if decoded is not None:
            out.append(decoded)
    return out


def _nested(data: bytes) -> str | None:
    """Decoded bytes that are themselves base64 or hex: kept for the next round."""
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    return text if _B64.fullmatch(text) or _HEX.fullmatch(text) else None


def _hex(item: _Text) -> list[str]:
    text = item.text
    if _HEX_CORE.search(text) is None:
        return []
    out = []
    for m in _HEX.finditer(text):
        digits = re.sub(r"\\x|0x|[\s:,-]", "", m.group())
        if len(digits) % 2:
            digits = digits[:-1]
        try:
            decoded = _readable(bytes.fromhex(digits))
        except ValueError:
            continue
        if decoded is not None:
            out.append(decoded)
    return out


def _url(item: _Text) -> list[str]:
    text = item.text
    if len(_PCT.findall(text)) < 3:
        return []
    runs = [urllib.parse.unquote_plus(m.group()) for m in _PCT_RUN.finditer(text)]
    return ["\n".join(runs)] if runs else []


def _flipped(item: _Text, flip: Callable[[str], str]) -> list[str]:
    """``flip(text)`` when it reads as English and ``text`` does not.

    Text that reads as English already is checked for flipped segments only, so a
    normal prompt costs one word count, not a transform of the whole text.
    """
    out = []
    for segment, before in item.gibberish:
        flipped = flip(segment)
        after = _english(flipped)
        if after < 0.3:
            continue
        if before is None:
            before = _english(segment)
        if after > before + 0.2 and len(_WORDS_RE.findall(flipped)) >= 5:
            out.append(flipped)
    return out


def _rot13(item: _Text) -> list[str]:
    return _flipped(item, lambda t: codecs.encode(t, "rot13"))


def _reversed(item: _Text) -> list[str]:
    return _flipped(item, lambda t: t[::-1])


def _is_leet(word: str) -> bool:
    return not word.isdigit() and "@" not in word[1:-1] and not word.isalpha()


def _leet(item: _Text) -> list[str]:
    """Sentences written mostly in leetspeak, decoded; the rest of the text is left out."""
    # A leet word is a whole run of word characters, so it never spans the whitespace
    # between segments: one pass over the text finds every segment's words, and only
    # segments with two or more are looked at.
    text = item.text
    starts = [m.start() for m in _LEET_WORD.finditer(text) if _is_leet(m.group())]
    if len(starts) < 2:
        return []
    out = []
    seg_start, k = 0, 0
    ends = [(m.start(), m.end()) for m in _SEGMENTS.finditer(text)]
    ends.append((len(text), len(text)))
    for seg_end, next_start in ends:
        n = 0
        while k < len(starts) and starts[k] < seg_end:
            n += starts[k] >= seg_start
            k += 1
        if n >= 2:
            seg = text[seg_start:seg_end]
            if n >= 0.25 * max(1, len(_WORD.findall(seg))):
                decoded = _LEET_WORD.sub(lambda m: m.group().translate(_LEET), seg)
                if _english(decoded) > _english(seg):
                    out.append(decoded)
        seg_start = next_start
    return ["\n".join(out)] if out else []


def _spaced(item: _Text) -> list[str]:
    """Sentences with words spelt out letter by letter (h-o-w t-o), joined up."""
    # As for leetspeak: no match spans the whitespace between segments.
    if len(_SPACED.findall(item.text)) < 3:
        return []
    out = []
    for seg in item.segments:
        if len(_SPACED.findall(seg)) >= 3:
            out.append(_SPACED.sub(lambda m: re.sub(r"[-_.* ]", "", m.group()), seg))
    return ["\n".join(out)] if out else []


_DECODERS = (
    ("base64", _base64),
    ("hex", _hex),
    ("url", _url),
    ("rot13", _rot13),
    ("reversed", _reversed),
    ("leetspeak", _leet),
    ("spaced", _spaced),
)


def expand(
    text: str, *, max_depth: int = 3, max_views: int = 8, max_chars: int = 20_000
) -> list[Decoded]:
    """Decoded views of ``text``, breadth first, at most ``max_views`` of them."""
    views: list[Decoded] = []
    seen = {text}
    frontier = [Decoded(text[:max_chars], ())]
    for _ in range(max_depth):
        nxt: list[Decoded] = []
        for item in frontier:
            current = _Text(item.text)
            for name, decoder in _DECODERS:
                for decoded in decoder(current):
                    decoded = decoded[:max_chars]
                    if decoded in seen:
                        continue
                    seen.add(decoded)
                    view = Decoded(decoded, (*item.chain, name))
                    views.append(view)
                    nxt.append(view)
                    if len(views) >= max_views:
                        return views
        frontier = nxt
        if not frontier:
            break
    return views


@dataclass(frozen=True, slots=True)
class EncodingRule:
    """Decode encoded payloads so that the later rules check the decoded text too.

    The rule itself fires only when ``flag_decoded`` is set; by default the decoded
    views are checked by the content rules, which fire if the payload is hostile.
    """

    name: ClassVar[str] = "encoding"
    directions: ClassVar[frozenset[Direction]] = frozenset({Direction.INPUT})

    max_depth: int = 3
    max_views: int = 8
    max_chars: int = 20_000
    flag_decoded: bool = False

    def check(self, text: str, ctx: Context) -> RuleResult:
        views = expand(
            text, max_depth=self.max_depth, max_views=self.max_views, max_chars=self.max_chars
        )
        if not views:
            return RuleResult.clean(self.name)
        chains = sorted({"+".join(v.chain) for v in views})
        return RuleResult(
            rule=self.name,
            triggered=self.flag_decoded,
            score=0.6 if self.flag_decoded else 0.3,
            reason="encoding." + chains[0],
            views=tuple(v.text for v in views),
            details={"chains": chains},
        )
