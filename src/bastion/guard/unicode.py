"""Invisible and deceptive Unicode, normalised before any other rule runs.

The rule removes characters a reader cannot see but a model reads (tag characters,
zero-width characters, bidi controls, variation selectors), applies NFKC (which folds
fullwidth and mathematical letters to ASCII) and maps Cyrillic and Greek homoglyphs
to Latin inside words that mix them with Latin letters (``іgnоrе`` -> ``ignore``),
leaving words written wholly in another script alone. Text hidden in tag characters
("ASCII smuggling") is decoded and handed to the later rules as a view.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import ClassVar

from bastion.guard.base import Context, Direction, RuleResult

_TAG_FIRST, _TAG_LAST = 0xE0000, 0xE007F
_ZERO_WIDTH = (0x200B, 0x200C, 0x200D, 0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0xFEFF, 0x180E)
_BIDI = (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
_OTHER_INVISIBLE = (0x00AD, 0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0, *range(0xFE00, 0xFE10))

_STRIP: dict[int, None] = dict.fromkeys((*_ZERO_WIDTH, *_BIDI, *_OTHER_INVISIBLE))

#: Cyrillic and Greek letters that render like Latin ones.
_CONFUSABLES: dict[int, str] = {
    ord(k): v
    for k, v in {
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "ɡ": "g", "һ": "h", "ԛ": "q", "ԝ": "w", "ӏ": "l", "ү": "y",
        "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P",
        "С": "C", "Т": "T", "У": "Y", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S", "Ԁ": "D",
        "α": "a", "ο": "o", "ρ": "p", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "τ": "t",
        "υ": "u", "χ": "x", "ϲ": "c", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H",
        "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y",
        "Χ": "X",
    }.items()
}  # fmt: skip
_WORD = re.compile(r"\w+")
_TAG = re.compile(f"[{chr(_TAG_FIRST)}-{chr(_TAG_LAST)}]")
_BIDI_CHAR = re.compile("[" + "".join(chr(cp) for cp in _BIDI) + "]")
_CONFUSABLE = re.compile("[" + "".join(chr(cp) for cp in _CONFUSABLES) + "]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(frozen=True, slots=True)
class Normalised:
    """The normalised text and what was removed or rewritten to get it."""

    text: str
    hidden: str = ""
    tags: int = 0
    invisible: int = 0
    bidi: int = 0
    homoglyph_words: int = 0


def normalise(text: str) -> Normalised:
    """Strip invisible characters, decode tag characters, NFKC, fold homoglyphs."""
    if text.isascii():
        return Normalised(text)
    hidden_chars: list[str] = []
    tags = 0
    if _TAG.search(text):
        kept: list[str] = []
        for c in text:
            cp = ord(c)
            if _TAG_FIRST <= cp <= _TAG_LAST:
                tags += 1
                if 0xE0020 <= cp <= 0xE007E:
                    hidden_chars.append(chr(cp - _TAG_FIRST))
            else:
                kept.append(c)
        text = "".join(kept)
    bidi = len(_BIDI_CHAR.findall(text))
    before = len(text)
    text = text.translate(_STRIP)
    invisible = before - len(text) - bidi
    text = unicodedata.normalize("NFKC", text)
    homoglyph_words = 0
    # only a word with a confusable letter changes
    if not text.isascii() and _CONFUSABLE.search(text):
        parts: list[str] = []
        last = 0
        for m in _WORD.finditer(text):
            word = m.group()
            if word.isascii() or not _LATIN.search(word):
                continue
            folded = word.translate(_CONFUSABLES)
            if folded != word:
                homoglyph_words += 1
                parts.append(text[last : m.start()])
                parts.append(folded)
                last = m.end()
        if homoglyph_words:
            parts.append(text[last:])
            text = "".join(parts)
    return Normalised(text, "".join(hidden_chars), tags, invisible, bidi, homoglyph_words)


@dataclass(frozen=True, slots=True)
class UnicodeRule:
    """Normalise the text; fire on hidden tag text, bidi controls or homoglyph words.

    Zero-width characters alone are stripped without firing (emoji and several
    scripts use them); ``max_invisible`` sets how many are tolerated before firing.
    """

    name: ClassVar[str] = "unicode"
    directions: ClassVar[frozenset[Direction]] = frozenset(Direction)
    #: The pipeline replaces the working text with ``redacted`` whatever the action.
    rewrites: ClassVar[bool] = True

    max_invisible: int = 8

    def check(self, text: str, ctx: Context) -> RuleResult:
        n = normalise(text)
        reasons: list[tuple[float, str]] = []
        if n.tags:
            reasons.append((0.95, "unicode.tag-characters"))
        if n.bidi:
            reasons.append((0.7, "unicode.bidi-control"))
        if n.homoglyph_words:
            reasons.append((0.7, "unicode.homoglyphs"))
        if n.invisible > self.max_invisible:
            reasons.append((0.6, "unicode.invisible"))
        score, reason = max(reasons, default=(0.0, ""))
        details = {"tags": n.tags, "bidi": n.bidi, "invisible": n.invisible}
        return RuleResult(
            rule=self.name,
            triggered=bool(reasons),
            score=score,
            reason=reason,
            redacted=n.text,
            views=(n.hidden,) if n.hidden.strip() else (),
            details=details | {"homoglyph_words": n.homoglyph_words},
        )
