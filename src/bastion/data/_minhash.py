"""Bottom-k MinHash sketches and LSH keys, in pure Python at C speed.

Every shingle (word 3-gram) is hashed once with CRC-32 and the sketch keeps the ``K``
smallest distinct hashes (a C sort of at most ``MAX_WORDS`` integers: ``heapq.nsmallest``
loops in Python over every element, and was most of the detector's time). Two texts with Jaccard
similarity J share their minimum hash with probability J, so the ``KEYS`` smallest
hashes serve as LSH keys, and the bottom-k estimator (Broder 1997; Cohen and Kaplan
2007) gives the similarity of two sketches. One hash per shingle and no Python loop
per shingle is what makes this cheap enough to run on every row; ``datasketch``
would add numpy and scipy and hash each shingle once per permutation.
"""

from __future__ import annotations

import struct
import zlib

K = 16
KEYS = 4
MAX_WORDS = 256


def sketch(words: list[str]) -> list[int]:
    """The K smallest distinct shingle hashes, ascending (word 3-grams of the first
    MAX_WORDS words; the whole text when it is shorter than three words)."""
    w = words[:MAX_WORDS]
    if len(w) < 3:
        return [zlib.crc32(" ".join(w).encode())] if w else []
    grams = map(" ".join, zip(w, w[1:], w[2:], strict=False))
    return sorted(set(map(zlib.crc32, map(str.encode, grams))))[:K]


def sketch_bytes(words: list[bytes]) -> list[int]:
    """:func:`sketch` of words already encoded in UTF-8 (the same hashes, no encoding
    per shingle)."""
    w = words[:MAX_WORDS]
    if len(w) < 3:
        return [zlib.crc32(b" ".join(w))] if w else []
    return sorted(set(map(zlib.crc32, map(b" ".join, zip(w, w[1:], w[2:], strict=False)))))[:K]


def shingles(words: list[bytes]) -> list[int]:
    """The hash of each word 3-gram of the first MAX_WORDS words, in order."""
    w = words[:MAX_WORDS]
    return list(map(zlib.crc32, map(b" ".join, zip(w, w[1:], w[2:], strict=False))))


def bottom(hashes: list[int]) -> list[int]:
    """The K smallest distinct of ``hashes``, ascending."""
    return sorted(set(hashes))[:K]


def pair_sketch(
    first: list[bytes],
    second: list[bytes],
    second_shingles: list[int],
    second_bottom: list[int] | None = None,
) -> list[int]:
    """``sketch_bytes([*first, b"\\x00", *second])``, reusing ``shingles(second)``: only
    the shingles of ``first`` and the ones across the separator are hashed here.

    ``second_bottom``, when given, is ``bottom(second_shingles)``: when all of ``second``
    lies in the window, the K smallest of the union are among the K smallest of each
    part, so only those of ``second`` are sorted again (a third of them, on answers of
    a paragraph)."""
    p = first[:MAX_WORDS]
    size = len(p)
    inside = min(len(second), MAX_WORDS - size - 1)  # words of ``second`` in the window
    if size + 1 + inside < 3 or inside < 0:
        return sketch_bytes([*p, b"\x00", *second[:2]])
    around = [*p[-2:], b"\x00", *second[: min(2, inside)]]
    hashes = shingles(p)
    hashes += map(zlib.crc32, map(b" ".join, zip(around, around[1:], around[2:], strict=False)))
    if second_bottom is not None and inside - 2 >= len(second_shingles):
        hashes += second_bottom
    else:
        hashes += second_shingles[: max(0, inside - 2)]
    return sorted(set(hashes))[:K]


def keys(sk: list[int]) -> list[int]:
    """LSH keys: texts sharing a key are candidate near-duplicates."""
    return sk[:KEYS]


def similarity(a: list[int], b: list[int]) -> float:
    """Bottom-k estimate of the Jaccard similarity of the two texts."""
    if not a or not b:
        return 1.0 if a == b else 0.0
    sa, sb = set(a), set(b)
    both = sa & sb
    if not both:  # most LSH candidates share the one key that made them meet, or none
        return 0.0
    union = sorted(sa | sb)[:K]
    return len(both.intersection(union)) / len(union)


def similar(a: list[int], b: list[int], threshold: float) -> bool:
    """``similarity(a, b) >= threshold``, without sorting the union when the hashes the
    two share are too few to reach ``threshold`` (most LSH candidates share the one key
    that made them meet): the shared hashes among the K smallest of the union are at
    most all of them."""
    if a and b:
        sa, sb = set(a), set(b)
        both = len(sa.intersection(sb))
        if both / min(K, len(sa) + len(sb) - both) < threshold:
            return False
    return similarity(a, b) >= threshold


def pack(sk: list[int]) -> bytes:
    return struct.pack(f"<{len(sk)}I", *sk)


def unpack(data: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(data) // 4}I", data))
