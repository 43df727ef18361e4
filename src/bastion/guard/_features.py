"""Features for the shipped classifier, shared by training and inference.

A text is cut into sentences (long ones into pieces of at most ``MAX_TOKENS``); each
sentence becomes a set of string features: words, word pairs, and a few features
about *who is addressed* and *how*: the first word (an imperative such as
``ignore`` or ``print``), whether the sentence speaks to an AI or to "you", and
combinations of the two, which is what an instruction hidden inside data looks
like. The classifier is linear, so a window of consecutive sentences scores as the
sum of its sentences and the text scores as its best window: an instruction hidden
in a long e-mail is not diluted by the e-mail around it.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from functools import lru_cache

MAX_TOKENS = 64
MAX_SENTENCES = 400
WINDOW = 3

_SPLIT = re.compile(r"(?<=[.!?。！？])\s+|\s*\n\s*")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_DIGITS = re.compile(r"\d+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?|ftp)://\S+|www\.\S+")
_DOMAIN = re.compile(
    r"\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|io|dev|ai|example|test|co|info|xyz|ru|cn)\b"
)
_AI = frozenset(
    [
        "ai",
        "assistant",
        "assistants",
        "chatbot",
        "bot",
        "llm",
        "llms",
        "gpt",
        "chatgpt",
        "model",
        "models",
        "agent",
        "copilot",
        "claude",
        "gemini",
        "bard",
        "llama",
        "system",
    ]
)
_YOU = frozenset(("you", "your", "yourself", "you're", "youre"))
_SKIP_FIRST = frozenset(
    [
        "please",
        "now",
        "also",
        "and",
        "then",
        "so",
        "just",
        "kindly",
        "first",
        "next",
        "finally",
        "important",
        "note",
        "urgent",
        "attention",
        "hey",
        "hi",
        "ok",
        "okay",
        "well",
        "but",
        "to",
        "dear",
    ]
)


def sentences(text: str) -> list[str]:
    """Sentences and lines of ``text``, at most ``MAX_SENTENCES`` of them."""
    out = [s for s in _SPLIT.split(text) if s and not s.isspace()]
    if len(out) > MAX_SENTENCES:
        # Keep the start and the end; the middle of a huge text is scored in pieces.
        half = MAX_SENTENCES // 2
        out = out[:half] + out[-half:]
    return out


def _tokens(sentence: str) -> list[str]:
    s = sentence.lower()
    if "@" in s or "." in s:
        s = _DOMAIN.sub(" _domain ", _URL.sub(" _url ", _EMAIL.sub(" _email ", s)))
    return _TOKEN.findall(_DIGITS.sub("0", s))


def _sentence_features(toks: list[str]) -> set[str]:
    feats = set(toks)
    feats.update(a + " " + b for a, b in itertools.pairwise(toks))
    first = ""
    for t in toks:
        if t.isalpha() and t not in _SKIP_FIRST and t not in _AI:
            first = t
            break
    ai = not feats.isdisjoint(_AI)
    you = not feats.isdisjoint(_YOU)
    if first:
        feats.add("^" + first)
    if ai:
        feats.add("#ai")
        if first:
            feats.add("#ai^" + first)
    if you:
        feats.add("#you")
        if first:
            feats.add("#you^" + first)
    if ai and you:
        feats.add("#ai&you")
    n = len(toks)
    punct = sum(1 for t in toks if not t[0].isalnum() and t[0] != "_")
    if n >= 8 and punct > 0.35 * n:
        feats.add("#punct-dense")
    feats.add(f"#len{min(n // 8, 8)}")
    return feats


def sentence_features(text: str) -> Iterator[set[str]]:
    """One feature set per sentence piece of ``text``."""
    for sent in sentences(text):
        toks = _tokens(sent)
        for i in range(0, max(len(toks), 1), MAX_TOKENS):
            piece = toks[i : i + MAX_TOKENS]
            if piece:
                yield _sentence_features(piece)


@lru_cache(maxsize=64)
def text_features(text: str) -> tuple[frozenset[str], ...]:
    """All sentence feature sets of ``text``; cached, as several models read the same text."""
    return tuple(frozenset(s) for s in sentence_features(text))
