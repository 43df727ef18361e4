"""Optimised adversarial suffixes: a plain request followed by token soup.

Attacks such as GCG (Zou et al., 2023) and its successors search for a string of
tokens that, appended to a harmful request, makes a model comply. What the search
finds reads as noise: brackets opened and never closed, or closed without being
opened (``'{ [[ orbegin `(nil}).pgf``, ``<?hide](textitspanifying6<<``), words that
mix scripts (``Dezprüngtemplates AlfмичеnonINSTár``). People write brackets in
pairs even in code, markdown and interval notation, so an unmatched one is rare in text that was
written, and the request in front of the suffix is ordinary prose.

The rule therefore looks at each line that starts as prose (at least five of its
first six words are plain words) and has at least ten words, matches its brackets
and backticks across the whole line, and marks each word that holds an unmatched or
mismatched bracket, an odd backtick, or letters of two scripts. It fires when some
``window`` consecutive words hold ``min_odd`` marked ones. A list marker (``1)``,
``b)``) closes what is open, and is no mistake when nothing is. Hand-written rather
than a perplexity filter: it needs no language model or vocabulary, costs
microseconds, and explains itself.

It does not see suffixes made of plain words in one script, nor ones with a single
unmatched bracket (the example suffix published with GCG has one), nor token soup on
a line of its own, nor a paraphrase attack (PAIR): those are left to the classifier.
Words holding a backslash were tried as marks too; they found 8 more of 389 optimised
suffixes in the development set and 27 more benign texts (escaped JSON, markdown), so
they are not used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from bastion.guard.base import Context, Direction, RuleResult, Span

_WORD = re.compile(r"\S+")
_PLAIN = re.compile(r"[A-Za-z][a-z'’-]*[,.:;!?]?")
_LIST_MARKER = re.compile(r"\(?[0-9A-Za-z]{1,3}[).]")
_BRACKETS = frozenset("()[]{}`")
_ANY_BRACKET = re.compile(r"[()\[\]{}`]")
#: what each closer may close: ``[0, 1)`` and ``(0, 1]`` are half-open intervals
_CLOSES = {")": "([", "]": "[(", "}": "{"}


def _script(ch: str) -> int:
    """A coarse script class for a letter: Latin, Greek, Cyrillic, Hebrew/Arabic,
    Indic/South-East Asian, East Asian, other."""
    o = ord(ch)
    if o < 0x250:
        return 0
    if 0x370 <= o < 0x400:
        return 1
    if 0x400 <= o < 0x530:
        return 2
    if 0x590 <= o < 0x700:
        return 3
    if 0x900 <= o < 0xE00:
        return 4
    if 0x3040 <= o < 0xA000 or 0xAC00 <= o < 0xD7B0:
        return 5
    return 6


def _mixed_script(word: str) -> bool:
    return len({_script(c) for c in word if c.isalpha()}) > 1


def odd_words(words: list[str]) -> list[bool]:
    """For each word of one line: does it hold an unmatched or mismatched bracket, an
    odd backtick, or letters of two scripts?"""
    odd = [False] * len(words)
    opened: list[tuple[str, int]] = []
    ticks: list[int] = []
    for i, word in enumerate(words):
        if not word.isascii() and _mixed_script(word):
            odd[i] = True
        if _BRACKETS.isdisjoint(word):
            continue
        marker = _LIST_MARKER.fullmatch(word) is not None
        for ch in word:
            if ch in "([{":
                opened.append((ch, i))
            elif ch in _CLOSES:
                if opened and opened[-1][0] in _CLOSES[ch]:
                    opened.pop()
                elif not marker:
                    odd[i] = True
            elif ch == "`":
                ticks.append(i)
    for _, i in opened:
        odd[i] = True
    if len(ticks) % 2:
        odd[ticks[-1]] = True
    return odd


@dataclass(frozen=True, slots=True)
class AdversarialSuffixRule:
    """Fire on a line of prose that runs into optimised token soup."""

    name: ClassVar[str] = "adversarial-suffix"
    directions: ClassVar[frozenset[Direction]] = frozenset({Direction.INPUT})

    window: int = 8
    min_odd: int = 2
    min_words: int = 10

    def check(self, text: str, ctx: Context) -> RuleResult:
        offset = 0
        for line in text.splitlines(keepends=True):
            start, offset = offset, offset + len(line)
            if line.isascii() and _ANY_BRACKET.search(line) is None:
                continue  # nothing to mark: most lines of prose
            words = line.split()
            if len(words) < self.min_words:
                continue
            if sum(1 for w in words[:6] if _PLAIN.fullmatch(w)) < 5:
                continue
            odd = odd_words(words)
            marked = [i for i, flag in enumerate(odd) if flag]
            for a, b in zip(marked, marked[self.min_odd - 1 :], strict=False):
                if b - a < self.window:
                    spans = [m.span() for m in _WORD.finditer(line)]
                    return RuleResult(
                        self.name,
                        True,
                        1.0,
                        "adversarial-suffix",
                        spans=(Span(start + spans[a][0], start + spans[-1][1], "suffix"),),
                        details={"odd_words": len(marked), "line_words": len(words)},
                    )
        return RuleResult.clean(self.name)
