"""What the extraction detector keeps of one query: numbers, never text.

A query becomes a :class:`QueryFeatures`:

* ``vector``: a unit-length hashing embedding (feature hashing of lower-cased words, word
  pairs and character 4-grams into :data:`DIM` signed buckets). It runs on a CPU in tens of
  microseconds, needs no model file and is the same in every process (CRC-32 and a fixed
  mixer, never Python's salted ``hash``), so replicas sharing state in Redis agree.
* ``simhash``: a 64-bit SimHash of the set of words, for near-duplicate detection: a word
  swapped, repeated or moved leaves it unchanged; ``exact`` tells true repeats apart.
* ``head`` / ``tail``: 32-bit hashes of the first and last :data:`EDGE` word tokens (numbers
  folded to one token), for templated prompts that share a prefix and suffix.
* ``slot``: what varies in an enumerated slot, as a kind (``number``, ``letter``) and value.
* ``sampling``: how much of the output distribution the request asks for (log-probabilities,
  ``top_logprobs``, ``n`` or ``best_of`` > 1), in [0, 1].
* ``prefixes`` / ``keys``: for the first :data:`ORDER_TOKENS` tokens, the CRC-32 of the
  prompt up to and including that token, and a 16-bit sort key of the token (its first three
  letters or digits, case folded). The next query's first differing token is where its
  template's slot starts; the two sort keys there tell whether the client walks its slot
  values in alphabetical order.
* ``suffixes``: the CRC-32 of the prompt's last one, two, ... :data:`ORDER_TOKENS` tokens;
  with ``prefixes`` they bound the span where two fillings of one template differ (the
  slot's filler).
* ``kinds``: for the first :data:`KIND_TOKENS` tokens, whether each is punctuation (0), a
  content word (1) or a function word such as "the" or "of" (2): whether a filler is a short
  key (a name, a number) or prose.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

DIM = 256
EDGE = 4
ORDER_TOKENS = 32  # tokens whose prefix hash and sort key a query keeps
KIND_TOKENS = 48  # tokens whose kind (punctuation, word, function word) a query keeps
_KEY_CHARS = 3  # characters in a token's sort key: 37**3 < 2**16
MAX_CHARS = 4096  # the embedding reads at most this much of a prompt

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_TOKEN = re.compile(r"[^\W_]+|[^\w\s]", re.UNICODE)
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "with",
        "as",
        "by",
        "at",
        "from",
        "what",
        "how",
        "why",
        "when",
        "which",
        "who",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "i",
        "you",
        "me",
        "my",
        "we",
        "our",
        "your",
        "please",
        "tell",
        "about",
        "explain",
        "give",
    ]
)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_BITS = np.arange(64, dtype=np.uint64)

Vector = npt.NDArray[np.float32]


def _mix(h: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's finaliser, vectorised: spreads every input bit over the output."""
    with np.errstate(over="ignore"):
        h = (h ^ (h >> np.uint64(30))) * _M1
        h = (h ^ (h >> np.uint64(27))) * _M2
        return h ^ (h >> np.uint64(31))


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


def char_grams(text: str, n: int = 4) -> npt.NDArray[np.uint64]:
    """64-bit hashes of every character n-gram of ``text`` (whitespace runs folded)."""
    folded = " ".join(text.lower().split())[:MAX_CHARS]
    codes = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    if codes.size < n:
        codes = np.pad(codes, (0, n - codes.size))
    c = codes.astype(np.uint64)
    m = c.size - n + 1
    with np.errstate(over="ignore"):
        h = c[:m].copy()  # the polynomial's first step from zero, h = 0 * P + c
        for k in range(1, n):
            h *= np.uint64(1_000_003)
            h += c[k : m + k]
    return _mix(h)


def simhash(grams: npt.NDArray[np.uint64]) -> int:
    """Charikar's SimHash of a set of 64-bit feature hashes."""
    # bit k of every hash, column k: unpacking the little-endian bytes least significant
    # bit first lays the 64 bits out in order
    octets = np.ascontiguousarray(grams, dtype="<u8").view(np.uint8).reshape(grams.size, 8)
    bits = np.unpackbits(octets, axis=1, bitorder="little")
    votes = bits.sum(axis=0, dtype=np.int64) * 2 - grams.size
    return int(np.packbits(votes > 0, bitorder="little").view("<u8")[0])


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text[:MAX_CHARS].lower()) if w not in _STOP]


def embed(
    text: str, grams: npt.NDArray[np.uint64] | None = None, words: list[str] | None = None
) -> Vector:
    """The hashing embedding of ``text``: unit length, or all zeros for an empty text."""
    words = _words(text) if words is None else words
    return _embed(text, grams, words, [_crc(w) for w in words])


def _embed(
    text: str, grams: npt.NDArray[np.uint64] | None, words: list[str], word_crcs: list[int]
) -> Vector:
    hashes = word_crcs + [_crc(a + " " + b) for a, b in itertools.pairwise(words)]
    g = char_grams(text) if grams is None else grams
    all_h = np.empty(len(hashes) + g.size, dtype=np.uint64)
    all_h[: len(hashes)] = hashes
    all_h[: len(hashes)] = _mix(all_h[: len(hashes)])
    all_h[len(hashes) :] = g
    # words weigh 2, word pairs 1, character grams 0.25, each signed by its hash's top bit
    all_w = np.full(all_h.size, 0.25)
    all_w[: len(words)] = 2.0
    all_w[len(words) : len(hashes)] = 1.0
    all_w[(all_h >> np.uint64(63)).astype(bool)] *= -1.0
    idx = (all_h & np.uint64(DIM - 1)).astype(np.intp)  # DIM is a power of two: the modulo
    vec = np.bincount(idx, weights=all_w, minlength=DIM).astype(np.float32)
    # np.linalg.norm's own arithmetic (a float32 dot, then sqrt) without its overhead
    norm = float(np.sqrt(vec.dot(vec)))
    return vec / norm if norm > 0 else vec


@dataclass(frozen=True, slots=True)
class QueryFeatures:
    vector: Vector
    simhash: int
    exact: int
    head: int
    tail: int
    length: int  # word tokens
    slot: tuple[str, int] | None
    sampling: float
    prefixes: npt.NDArray[np.uint32]  # CRC-32 of the prompt up to each token
    keys: npt.NDArray[np.uint16]  # each token's sort key (0 past the prompt's end)
    suffixes: npt.NDArray[np.uint32]  # CRC-32 of the prompt's last 1, 2, ... tokens
    kinds: npt.NDArray[np.uint8]  # of the first KIND_TOKENS tokens: 0 punct, 1 word, 2 stop
    tokens: int  # all tokens, punctuation included


_NUM = re.compile(r"^\d{1,9}$")


def _slot(tokens: list[str]) -> tuple[str, int] | None:
    """The last number, or a lone letter, in the prompt: an enumerated slot's value."""
    for t in reversed(tokens):
        if _NUM.match(t):
            return "number", int(t)
        if len(t) == 1 and t.isupper() and t.isascii():
            return "letter", ord(t)
    return None


_KEY_CODES = {c: 1 + i for i, c in enumerate("0123456789abcdefghijklmnopqrstuvwxyz")}
_KEY_CODES.update({c.upper(): v for c, v in _KEY_CODES.items() if c.isalpha()})


def _sort_key(token: str) -> int:
    """An order-preserving 16-bit key of a token's first letters and digits (0: none)."""
    head = token[:_KEY_CHARS]
    if head.isascii() and head.isalnum():  # the usual case: every character counts
        codes = _KEY_CODES
        key = 0
        for c in head:
            key = key * 37 + codes[c]
        return key * _KEY_PAD[len(head)]
    key = used = 0
    for c in token:
        code = _KEY_CODES.get(c)
        if code is not None:
            key = key * 37 + code
            used += 1
            if used == _KEY_CHARS:
                break
    for _ in range(_KEY_CHARS - used):
        key *= 37
    return key


_KEY_PAD: list[int] = [37 ** (_KEY_CHARS - n) for n in range(_KEY_CHARS + 1)]


def order_features(
    tokens: list[str],
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.uint16]]:
    """Prefix hashes and sort keys of the first :data:`ORDER_TOKENS` lower-cased tokens."""
    head = tokens[:ORDER_TOKENS]
    pad = [0] * (ORDER_TOKENS - len(head))
    hashes: list[int] = []
    crc = 0
    for token in head:
        crc = zlib.crc32(token.encode("utf-8", "surrogatepass") + b"\x00", crc)
        hashes.append(crc)
    prefixes = np.array(hashes + pad, dtype=np.uint32)
    keys = np.array([_sort_key(t) for t in head] + pad, dtype=np.uint16)
    return prefixes, keys


def suffix_features(tokens: list[str]) -> npt.NDArray[np.uint32]:
    """CRC-32 of the last 1, 2, ... :data:`ORDER_TOKENS` lower-cased tokens (0 past the start)."""
    hashes: list[int] = []
    crc = 0
    for token in reversed(tokens[-ORDER_TOKENS:]):
        crc = zlib.crc32(token.encode("utf-8", "surrogatepass") + b"\x00", crc)
        hashes.append(crc)
    return np.array(hashes + [0] * (ORDER_TOKENS - len(hashes)), dtype=np.uint32)


def token_kinds(tokens: list[str]) -> npt.NDArray[np.uint8]:
    """0 punctuation, 1 content word, 2 function word, for the first :data:`KIND_TOKENS`."""
    return np.array(
        [(2 if t in _STOP else 1) if t[0].isalnum() else 0 for t in tokens[:KIND_TOKENS]],
        dtype=np.uint8,
    )


def sampling_level(params: Mapping[str, Any]) -> float:
    """How much of the output distribution one request asks for, in [0, 1]."""
    level = 0.0
    if params.get("logprobs"):
        level = 0.5
    top = params.get("top_logprobs")
    if isinstance(top, int) and top > 0:
        level = max(level, min(1.0, 0.5 + top / 10))
    logprobs = params.get("logprobs")
    if isinstance(logprobs, int) and not isinstance(logprobs, bool) and logprobs > 0:
        level = max(level, min(1.0, 0.5 + logprobs / 10))  # legacy completions: an int
    for name in ("n", "best_of"):
        n = params.get(name)
        if isinstance(n, int) and not isinstance(n, bool) and n > 1:
            level = max(level, min(1.0, 0.25 + n / 8))
    return level


def extract(text: str, params: Mapping[str, Any] | None = None) -> QueryFeatures:
    """The features of one prompt (``params``: the request's other fields)."""
    head = text[:MAX_CHARS]
    folded = head.lower()
    lower = _TOKEN.findall(folded)
    tokens = ["0" if t.isdigit() else t for t in lower]
    raw = _TOKEN.findall(head)
    prefixes, keys = order_features(lower)
    grams = char_grams(text)
    words = [w for w in _WORD.findall(folded) if w not in _STOP]  # as _words
    word_crcs = [_crc(w) for w in words]
    word_set = _mix(np.asarray(sorted(set(word_crcs)), dtype=np.uint64))
    return QueryFeatures(
        vector=_embed(text, grams, words, word_crcs),
        simhash=simhash(word_set) if word_set.size else 0,
        exact=_crc(" ".join(text.split())),
        head=_crc(" ".join(tokens[:EDGE])),
        tail=_crc(" ".join(tokens[-EDGE:])),
        length=len(tokens),
        slot=_slot(raw),
        sampling=sampling_level(params or {}),
        prefixes=prefixes,
        keys=keys,
        suffixes=suffix_features(lower),
        kinds=token_kinds(lower),
        tokens=len(lower),
    )
