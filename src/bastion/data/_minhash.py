"""Bottom-k MinHash sketches and LSH keys over word 3-grams.

Each distinct word gets a stable 60-bit hash (:func:`word_hash`, cached per process),
and a shingle's hash is Python's hash of the tuple of its three word hashes: for
integers below 2**61 - 1 that hash is their value, and a tuple's is a fixed xxHash-style
mix of its items' (PYTHONHASHSEED plays no part), so one C call per shingle hashes it,
instead of joining the three words and hashing the bytes. The sketch keeps the ``K``
smallest distinct shingle hashes. Two texts with Jaccard similarity J share their
minimum hash with probability J, so the ``KEYS`` smallest hashes serve as LSH keys, and
the bottom-k estimator (Broder 1997; Cohen and Kaplan 2007) gives the similarity of two
sketches. ``datasketch`` would hash each shingle once per permutation.

:func:`pair_sketches` computes the sketches of many rows at once with numpy when it is
installed (the same hashes, computed over the rows' bytes instead of word by word), and
with the word-by-word code otherwise. The trigger detector's response bands are the
smallest CRC-32 hashes of a response's 3-grams (:func:`response_shingles`), as before.
"""

from __future__ import annotations

import functools
import struct
import sys
import zlib
from collections.abc import Sequence
from itertools import chain, repeat
from typing import Any

K = 16
KEYS = 4
MAX_WORDS = 256
#: The word between a prompt and its response in a pair sketch: a byte that neither
#: ASCII nor UTF-8 text holds.
SEP = b"\xff"
#: Bytes to words, in one C pass over ASCII text: upper-case letters become lower-case,
#: every other byte that is not a word character (``\w``) a space; bytes from 0x80 up
#: (UTF-8 words, :data:`SEP`) stay.
WORD_BYTES = bytes(
    c + 32
    if 65 <= c <= 90
    else c
    if (48 <= c <= 57 or 97 <= c <= 122 or c == 95 or c >= 128)
    else 32
    for c in range(256)
)
#: Bytes to folded text (:func:`bastion.data.base.text_key`): upper-case letters become
#: lower-case, and what ``str.split`` takes for whitespace (the separators 0x1C to 0x1F
#: too) a space.
FOLD_BYTES = bytes(
    c + 32 if 65 <= c <= 90 else 32 if c < 128 and chr(c).isspace() else c for c in range(256)
)

_M64 = (1 << 64) - 1
_P0 = 0x9E3779B97F4A7C15
_P1 = 0xFF51AFD7ED558CCD
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB
#: CPython's tuple hash (Objects/tupleobject.c, 64-bit builds), for the numpy path.
_XXPRIME_1 = 11400714785074694791
_XXPRIME_2 = 14029467366897019727
_XXPRIME_5 = 2870177450012600261
_TUPLE3 = 3 ^ (_XXPRIME_5 ^ 3527539)
#: A sketch keeps the top 64 - SHIFT bits of each shingle hash (its order, arithmetic
#: shift), which leaves room for the row number in one 64-bit sort key: 2**SHIFT rows
#: are sketched together at most.
SHIFT = 8
#: Rows sketched together: numpy's cost per call is spread over them, and their arrays
#: (some 15,000 elements) stay in a core's cache (256 rows were slower).
BATCH = 192
#: The 3-grams of a row sorted for its sketch, about (the smallest hashes only).
SAMPLE = 32
_LOW = (1 << (64 - SHIFT)) - 1
#: The word hash cache is emptied when it holds this many words (it only saves time).
WORD_CACHE = 1 << 18


def word_hash(word: bytes) -> int:
    """A stable 60-bit hash of ``word``: its length and 8-byte little-endian chunks,
    multiplied in, then the SplitMix64 finaliser (below 2**61 - 1, so that Python's
    hash of the integer is the integer)."""
    h = (len(word) * _P0) & _M64
    for i in range(0, len(word), 8):
        h = ((h ^ int.from_bytes(word[i : i + 8], "little")) * _P1) & _M64
    h ^= h >> 30
    h = (h * _C1) & _M64
    h ^= h >> 27
    h = (h * _C2) & _M64
    h ^= h >> 31
    return h >> 4


class _WordHashes(dict[bytes, int]):
    def __missing__(self, word: bytes) -> int:
        if len(self) >= WORD_CACHE:
            self.clear()
        value = self[word] = word_hash(word)
        return value


_WORDS = _WordHashes()
_SHIFT_OUT = SHIFT.__rrshift__
SEP_HASH = word_hash(SEP)
#: The tuple hash above is CPython's on 64-bit builds; elsewhere numpy is not used.
_NATIVE = sys.hash_info.width == 64 and sys.implementation.name == "cpython"


def hashes(words: Sequence[bytes]) -> list[int]:
    """:func:`word_hash` of each of ``words`` (from the cache when seen before)."""
    return list(map(_WORDS.__getitem__, words))


def shingles(hashes: list[int]) -> list[int]:
    """The hash of each word 3-gram of the first MAX_WORDS words (given by their
    :func:`word_hash`), in order."""
    h = hashes[:MAX_WORDS]
    return list(map(_SHIFT_OUT, map(hash, zip(h, h[1:], h[2:], strict=False))))


def response_shingles(words: list[bytes]) -> list[int]:
    """CRC-32 of each word 3-gram (joined by spaces) of the first MAX_WORDS words: the
    hashes of the response bands the trigger detector counts (its findings were tuned
    with them; the near-duplicate sketches use :func:`shingles`)."""
    w = words[:MAX_WORDS]
    return list(map(zlib.crc32, map(b" ".join, zip(w, w[1:], w[2:], strict=False))))


def bottom(hashes: list[int]) -> list[int]:
    """The K smallest distinct of ``hashes``, ascending."""
    return sorted(set(hashes))[:K]


def sketch(hashes: list[int]) -> list[int]:
    """The K smallest distinct shingle hashes, ascending, of the words whose
    :func:`word_hash` are ``hashes`` (word 3-grams of the first MAX_WORDS words; the
    whole text when it is shorter than three words)."""
    h = hashes[:MAX_WORDS]
    if len(h) < 3:
        return [hash(tuple(h)) >> SHIFT] if h else []
    return bottom(shingles(h))


def pair_sketch(first: Sequence[bytes], second: Sequence[bytes]) -> list[int]:
    """The sketch of ``first``, :data:`SEP` and ``second`` (a prompt and its response,
    as words), within the first MAX_WORDS words."""
    window = hashes(first[:MAX_WORDS])
    window.append(SEP_HASH)
    window += hashes(second[: MAX_WORDS - len(window)])
    return sketch(window)


#: What :func:`pair_sketches` gives: the sketches, packed, the words of each second
#: text, and the :func:`fold_key` of each text (first, second, row by row).
Sketches = tuple[list[list[int]], list[bytes], list[int], list[int]]


def fold_key(source: bytes) -> int:
    """The hash of ``source`` folded (:data:`FOLD_BYTES`), runs of spaces made one and
    none leading or trailing: for ASCII text encoded, its
    :func:`bastion.data.base.text_key`."""
    return hash(b" ".join(source.translate(FOLD_BYTES).split()))


def pair_sketches(pairs: Sequence[tuple[bytes, bytes]]) -> Sketches:
    """:func:`pair_sketch` of each pair of texts, each sketch :func:`pack`-ed too, the
    number of words of each second text, and the :func:`fold_key` of each text (the
    exact-duplicate keys, from the bytes the sketches start with). A text is given
    as ASCII text encoded, or as its words joined by spaces (what :data:`WORD_BYTES`
    leaves as it is): :func:`bastion.data.base.word_source`."""
    if _NATIVE and _numpy() is not None:
        sketches: list[list[int]] = []
        packed: list[bytes] = []
        counts: list[int] = []
        keys: list[int] = []
        for at in range(0, len(pairs), BATCH):
            more, more_packed, more_counts, more_keys = _np_pair_sketches(pairs[at : at + BATCH])
            sketches += more
            packed += more_packed
            counts += more_counts
            keys += more_keys
        return sketches, packed, counts, keys
    return _pure_pair_sketches(pairs)


def _pure_pair_sketches(pairs: Sequence[tuple[bytes, bytes]]) -> Sketches:
    sketches = []
    counts = []
    keys: list[int] = []
    for first, second in pairs:
        words = second.translate(WORD_BYTES).split()
        counts.append(len(words))
        sketches.append(pair_sketch(first.translate(WORD_BYTES).split(), words))
        keys += (fold_key(first), fold_key(second))
    return sketches, list(map(pack, sketches)), counts, keys


def similarity(a: Sequence[int], b: Sequence[int]) -> float:
    """Bottom-k estimate of the Jaccard similarity of the two texts."""
    if not a or not b:
        return 1.0 if list(a) == list(b) else 0.0
    sa, sb = set(a), set(b)
    both = sa & sb
    if not both:  # most LSH candidates share the one key that made them meet, or none
        return 0.0
    union = sorted(sa | sb)[:K]
    return len(both.intersection(union)) / len(union)


def similar(
    a: Sequence[int], b: Sequence[int], threshold: float, a_set: set[int] | None = None
) -> bool:
    """``similarity(a, b) >= threshold``, without sorting the union when the hashes the
    two share are too few to reach ``threshold`` (most LSH candidates share the one key
    that made them meet): the shared hashes among the K smallest of the union are at
    most all of them. ``a_set``, when given, is ``set(a)`` (a caller comparing one
    sketch with several makes it once)."""
    if a and b:
        sa = set(a) if a_set is None else a_set
        both = len(sa.intersection(b))
        if both / min(K, len(sa) + len(b) - both) < threshold:
            return False
    return similarity(a, b) >= threshold


#: One compiled format per sketch length (building the format string on every call
#: cost as much as packing).
_FORMATS = [struct.Struct(f"<{n}q") for n in range(K + 1)]
#: The smallest HEAD hashes of a packed sketch, for :func:`similar_packed`.
HEAD = K // 2
_HEAD = _FORMATS[HEAD].unpack_from
_FULL = K * 8


def similar_packed(a: Sequence[int], a_set: set[int], b: bytes, threshold: float) -> bool:
    """``similar(a, unpack(b), threshold, a_set)``, from the smallest HEAD hashes of
    ``b`` alone when those rule it out (most LSH candidates).

    When both sketches are full, the K smallest of the union are K; if ``b``'s HEAD-th
    smallest is not among them, K - HEAD + 1 of them at least come from ``a`` alone, and
    if it is, so are all of ``b``'s HEAD smallest, and those not in ``a`` are not shared
    either: either way at most HEAD + (how many of those HEAD are in ``a``) of the K
    are shared (HEAD = K / 2), which bounds the similarity."""
    full = len(a) == K and len(b) == _FULL
    if full and (HEAD + len(a_set.intersection(_HEAD(b)))) / K < threshold:
        return False
    return similar(a, unpack(b), threshold, a_set)


def pack(sk: list[int]) -> bytes:
    return _FORMATS[len(sk)].pack(*sk)


def unpack(data: bytes) -> tuple[int, ...]:
    return _FORMATS[len(data) >> 3].unpack(data)


@functools.cache
def _numpy() -> Any:
    """numpy, imported on first use (a scan without this detector never pays for it),
    or None where it is not installed."""
    try:
        import numpy
    except ImportError:  # pragma: no cover - numpy is an optional speed-up
        return None
    return numpy


def _nonzero(mask: Any) -> Any:
    """``numpy.flatnonzero`` of a 1-D array, without its Python wrapper."""
    return mask.nonzero()[0]


def _np_mix(h: Any) -> Any:
    np = _numpy()
    h = h ^ (h >> np.uint64(30))
    h = h * np.uint64(_C1)
    h = h ^ (h >> np.uint64(27))
    h = h * np.uint64(_C2)
    return h ^ (h >> np.uint64(31))


def _np_pair_sketches(pairs: Sequence[tuple[bytes, bytes]]) -> Sketches:
    """:func:`pair_sketches` of at most BATCH rows over all their bytes at once: word
    boundaries, word hashes (chunks read as unaligned 64-bit loads), CPython's tuple
    hash of each 3-gram, and one sort of (row, hash) for the K smallest of each row.
    Whole-array steps only: an index into an array costs more per element than
    arithmetic, so what can be a slice, a repeat or a mask is one."""
    np = _numpy()
    u64 = np.uint64
    # A space first and after each row (every word has a space on each side), and 8
    # at the end, so that a 64-bit load at any byte of a word stays inside the data.
    n_rows = len(pairs)
    firsts, seconds = zip(*pairs, strict=True)
    first_len = np.fromiter(map(len, firsts), dtype=np.int64, count=n_rows)
    second_len = np.fromiter(map(len, seconds), dtype=np.int64, count=n_rows)
    row_ends = (first_len + second_len + 4).cumsum() + 1
    row_starts = row_ends - (first_len + second_len + 4)
    seps = row_starts + first_len + 1
    # Where each text starts and ends, first and second, row by row.
    text_starts = np.stack((row_starts, seps + 2), axis=1).ravel().tolist()
    text_ends = np.stack((seps - 1, row_ends - 1), axis=1).ravel().tolist()
    rows = chain.from_iterable(zip(firsts, repeat(b" \xff "), seconds, repeat(b" ")))
    # Lower-case letters, and word bytes, with whole-array steps (a byte each, many to an
    # instruction) rather than two translations (:data:`FOLD_BYTES`, :data:`WORD_BYTES`)
    # that look each byte up in turn: the words' bytes, where the hashes load them, are
    # what the word translation gives; what it makes a space is what is not a word byte.
    raw = np.frombuffer(b"".join(chain((b" ",), rows, (b" " * 8,))), dtype=np.uint8)
    u8 = np.uint8
    lower = (raw - u8(65) < u8(26)).view(u8) * u8(32)  # (a shift of bytes is not vectorised)
    lower |= raw
    data = lower.tobytes()
    keys = _np_fold_keys(lower, data, text_starts, text_ends)
    token = (
        (lower - u8(97) < u8(26))
        | (lower - u8(48) < u8(10))
        | (lower == u8(95))
        | (lower >= u8(128))
    )
    edges = _nonzero(token[1:] != token[:-1]) + 1
    starts, ends = edges[::2], edges[1::2]
    n_words = len(starts)
    if n_words < 3:
        return _pure_pair_sketches(pairs)
    lengths = (ends - starts).astype(u64)
    loads = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))
    # The first chunk of every word, then the next ones of the longer words (few).
    masked = (u64(64) - np.minimum(lengths, u64(8)) * u64(8)).astype(u64)
    h = ((lengths * u64(_P0)) ^ (loads[starts] & (u64(_M64) >> masked))) * u64(_P1)
    chunk = 8
    longer = _nonzero(lengths > u64(chunk))
    while longer.size:
        rest = np.minimum(lengths[longer] - u64(chunk), u64(8))
        loaded = loads[starts[longer] + chunk] & (u64(_M64) >> (u64(64) - rest * u64(8)))
        h[longer] = (h[longer] ^ loaded) * u64(_P1)
        chunk += 8
        longer = longer[lengths[longer] > u64(chunk)]
    words = _np_mix(h) >> u64(4)

    first_word = starts.searchsorted(row_starts)
    row_words = np.append(first_word[1:], n_words) - first_word
    counts = (first_word + row_words - starts.searchsorted(seps) - 1).tolist()
    window = np.minimum(row_words, MAX_WORDS)
    acc = np.full(n_words - 2, _XXPRIME_5, dtype=u64)
    for offset in range(3):
        acc += words[offset : n_words - 2 + offset] * u64(_XXPRIME_2)
        acc = (acc << u64(31)) | (acc >> u64(33))
        acc *= u64(_XXPRIME_1)
    acc += u64(_TUPLE3)
    acc[acc == u64(_M64)] = u64(1546275796)
    # Signed order is unsigned order with the top bit flipped; a sketch keeps the top
    # 56 bits (:data:`SHIFT`), which leaves room for the row above them in one sort key.
    ordered = (acc ^ u64(1 << 63)) >> u64(SHIFT)
    # Only hashes under a bound set for each row so that about SAMPLE of its 3-grams
    # pass are sorted: the K smallest are among them whenever K distinct ones pass
    # (a row where fewer do is sketched again, in full, below). Every word but the
    # last two of its row's window starts a 3-gram.
    grams = np.maximum(window - 2, 1)
    bound = np.where(grams > SAMPLE, (1 << (64 - SHIFT)) // grams * SAMPLE, 1 << (64 - SHIFT))
    # A 3-gram starts at every word of its row's window but the last two: the others
    # get a bound of 0, which none passes (a few per row, not a test per word).
    bounds = bound.astype(u64).repeat(row_words)
    words_end = first_word + row_words
    bounds[words_end - 1] = 0
    bounds[words_end - 2] = 0  # (-1 at most: the last word, not a 3-gram's start)
    for i in _nonzero(row_words > MAX_WORDS).tolist():
        bounds[first_word[i] + MAX_WORDS - 2 : words_end[i]] = 0
    passing = _nonzero(ordered < bounds[:-2])
    row = np.arange(n_rows, dtype=u64).repeat(row_words)[passing]
    key = (row << u64(64 - SHIFT)) | ordered[passing]
    key.sort(kind="stable")
    key = key[np.concatenate(([True], key[1:] != key[:-1]))[: len(key)]]
    first_key = (key >> u64(64 - SHIFT)).searchsorted(np.arange(n_rows + 1, dtype=u64))
    in_row = first_key[1:] - first_key[:-1]
    rank = np.arange(len(key)) - first_key[:-1].repeat(in_row)
    values = (key[rank < K] & u64(_LOW)).view(np.int64) - (1 << (63 - SHIFT))
    blob = values.astype("<i8", copy=False).tobytes()  # what :func:`pack` makes of them
    listed = values.tolist()
    offsets = np.concatenate(([0], np.minimum(in_row, K).cumsum()))
    sketches = list(
        map(listed.__getitem__, map(slice, offsets[:-1].tolist(), offsets[1:].tolist()))
    )
    offsets *= 8
    packed = list(map(blob.__getitem__, map(slice, offsets[:-1].tolist(), offsets[1:].tolist())))
    # Under three words (the sketch is the whole text's hash), or too few distinct
    # 3-grams under the bound: row by row.
    redo = (window < 3) | ((grams > SAMPLE) & (in_row < K))
    for i in _nonzero(redo).tolist():
        sketches[i] = _pure_pair_sketches(pairs[i : i + 1])[0][0]
        packed[i] = pack(sketches[i])
    return sketches, packed, counts, keys


def _np_fold_keys(lower: Any, data: bytes, starts: list[int], ends: list[int]) -> list[int]:
    """:func:`fold_key` of each text of a batch, from the batch lower-cased (``lower``, as
    bytes ``data``): the hash of the text's bytes as they are, unless it holds a control
    character (whitespace among them, which folding makes a space) or a run of spaces
    touches it. Every text has a space on each side, so a leading or trailing space
    makes a run too, and one search over the whole batch finds the (few) texts to fold."""
    np = _numpy()
    keys = list(map(hash, map(data.__getitem__, map(slice, starts, ends))))
    # Up to the last text's end (the padding after it is a run of spaces).
    head = lower[: ends[-1] + 1]
    spaces = head == 32
    odd = (spaces[1:] & spaces[:-1]) | (head[1:] < 32)
    if odd.any():
        runs = _nonzero(odd) + 1  # the second space of each pair, or the control character
        text = np.array(starts).searchsorted(runs, "right") - 1
        touched = runs <= np.array(ends)[text]
        for i in np.unique(text[touched]).tolist():
            keys[i] = fold_key(data[starts[i] : ends[i]])
    return keys
