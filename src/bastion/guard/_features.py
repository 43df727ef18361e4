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
from collections.abc import Set as AbstractSet
from functools import lru_cache

MAX_TOKENS = 64
MAX_SENTENCES = 400
WINDOW = 3

_SPLIT = re.compile(r"(?<=[.!?。！？])\s+|\s*\n\s*")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_PUNCT = re.compile(r"[^\w\s]")
_PUNCT_RUN = re.compile(r"[^\w\s]\s*[^\w\s]\s*[^\w\s]")
_DIGITS = re.compile(r"\d+")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?|ftp)://\S+|www\.\S+")
#: Every ``_DOMAIN`` match ends with one of these; searching for it first is cheaper.
_TLD = re.compile(r"\.(?:com|net|org|io|dev|ai|example|test|co|info|xyz|ru|cn)\b")
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
#: A lower-case letter followed by an upper-case one inside a word ("surYes", "HTMLsvg"):
#: optimised adversarial suffixes are full of them, prose is not.
_ODD_CASE = re.compile(r"[a-z][A-Z]")
_IMPERATIVE = frozenset(
    [
        "write",
        "explain",
        "describe",
        "give",
        "create",
        "provide",
        "tell",
        "list",
        "outline",
        "develop",
        "generate",
        "design",
        "draft",
        "compose",
        "teach",
        "show",
        "how",
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
#: Words that set up a frame around a request: fiction, role-play, hypotheticals,
#: games. Benign role-play prompts use them too; what the model learns is their
#: company (rule words, "you", a persona's name as the first word...).
_FRAME = frozenset(
    [
        "fiction",
        "fictional",
        "hypothetical",
        "hypothetically",
        "story",
        "novel",
        "screenplay",
        "script",
        "scene",
        "character",
        "characters",
        "roleplay",
        "role",
        "pretend",
        "imagine",
        "scenario",
        "game",
        "movie",
        "film",
        "villain",
        "screenwriter",
        "novelist",
        "simulate",
        "simulation",
        "persona",
        "mode",
        "opposite",
        "grandmother",
    ]
)
#: Words about the model's own rules and refusals.
_RULES = frozenset(
    [
        "rules",
        "restrictions",
        "restricted",
        "unrestricted",
        "guidelines",
        "policies",
        "policy",
        "filters",
        "filtered",
        "unfiltered",
        "censorship",
        "censored",
        "uncensored",
        "ethics",
        "ethical",
        "moral",
        "morals",
        "morality",
        "safety",
        "warnings",
        "warning",
        "disclaimers",
        "disclaimer",
        "refuse",
        "refuses",
        "refusal",
        "refusing",
        "limitations",
        "constraints",
        "restraints",
        "boundaries",
        "consequences",
        "legality",
    ]
)
#: Harm words: weapons, drugs, intrusion, fraud, violence, evasion.
_HARM = frozenset(
    [
        "bomb",
        "bombs",
        "explosive",
        "explosives",
        "weapon",
        "weapons",
        "gun",
        "guns",
        "firearm",
        "meth",
        "cocaine",
        "heroin",
        "fentanyl",
        "drug",
        "drugs",
        "narcotics",
        "hack",
        "hacking",
        "hacked",
        "malware",
        "ransomware",
        "virus",
        "keylogger",
        "botnet",
        "exploit",
        "poison",
        "poisoning",
        "steal",
        "stealing",
        "stolen",
        "theft",
        "fraud",
        "scam",
        "launder",
        "laundering",
        "counterfeit",
        "suicide",
        "kill",
        "killing",
        "murder",
        "illegal",
        "illegally",
        "illicit",
        "phishing",
        "trafficking",
        "smuggle",
        "smuggling",
        "evade",
        "evading",
        "detection",
        "caught",
        "unnoticed",
        "untraceable",
        "torture",
        "abuse",
        "harass",
        "harassment",
        "stalk",
        "stalking",
        "extremist",
        "terrorist",
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


def _folded(sentence: str) -> str:
    """The sentence as tokens see it: lower case, addresses and digits replaced."""
    s = sentence.lower()
    if "@" in s or "." in s:
        # Each substitution runs only where its match is possible: cheap tests first.
        if "@" in s:
            s = _EMAIL.sub(" _email ", s)
        if "://" in s or "www." in s:
            s = _URL.sub(" _url ", s)
        if _TLD.search(s):
            s = _DOMAIN.sub(" _domain ", s)
    return _DIGITS.sub("0", s)


def _tokens(sentence: str) -> list[str]:
    return _TOKEN.findall(_folded(sentence))


def _punct_shape(toks: list[str], folded: str) -> tuple[int, bool]:
    """Punctuation tokens, and whether three of them come in a row.

    A punctuation token is one ``[^\\w\\s]`` character, so both can be read off the
    folded sentence by the regex engine instead of a loop over the tokens.
    """
    if folded:
        return len(_PUNCT.findall(folded)), _PUNCT_RUN.search(folded) is not None
    punct = run = best_run = 0
    for t in toks:
        if not t[0].isalnum() and t[0] != "_":
            punct += 1
            run += 1
            best_run = max(best_run, run)
        else:
            run = 0
    return punct, best_run >= 3


def _sentence_features(toks: list[str], raw: str = "", folded: str = "") -> set[str]:
    feats = set(toks)
    feats.update(map(" ".join, itertools.pairwise(toks)))
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
    frame = not feats.isdisjoint(_FRAME)
    rules = not feats.isdisjoint(_RULES)
    harm = not feats.isdisjoint(_HARM)
    for flag, on in (("frame", frame), ("rules", rules), ("harm", harm)):
        if on:
            feats.add("#" + flag)
            if you or ai:
                feats.add("#" + flag + "&you")
    if harm and (frame or rules):
        feats.add("#harm&frame")
    n = len(toks)
    punct, punct_run = _punct_shape(toks, folded)
    if n >= 8 and punct > 0.35 * n:
        feats.add("#punct-dense")
    if punct_run:
        feats.add("#punct-run")
        if harm:
            feats.add("#harm&punct-run")
    if raw and _ODD_CASE.search(raw):
        odd = len(_ODD_CASE.findall(raw))
        if odd:
            feats.add("#odd-case" if odd < 3 else "#odd-case3")
            if harm or not feats.isdisjoint(_IMPERATIVE):
                feats.add("#odd-case&ask")
    feats.add(f"#len{min(n // 8, 8)}")
    return feats


def sentence_features(text: str) -> Iterator[set[str]]:
    """One feature set per sentence piece of ``text``."""
    for sent in sentences(text):
        folded = _folded(sent)
        toks = _TOKEN.findall(folded)
        if len(toks) <= MAX_TOKENS:
            if toks:
                yield _sentence_features(toks, sent, folded)
            continue
        for i in range(0, len(toks), MAX_TOKENS):
            yield _sentence_features(toks[i : i + MAX_TOKENS])


@lru_cache(maxsize=64)
def text_features(text: str) -> tuple[AbstractSet[str], ...]:
    """All sentence feature sets of ``text``; cached, as several models read the same text.

    The sets are handed out as read-only views of the cache: callers must not change them
    (copying each into a frozenset cost more than scoring it).
    """
    return tuple(sentence_features(text))
