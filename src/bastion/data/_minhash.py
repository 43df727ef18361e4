"""MinHash signatures and LSH band keys, in pure Python.

One-permutation hashing (Li, Owen and Zhang 2012) with rotation densification
(Shrivastava and Li 2014): every shingle is hashed once (CRC-32, C speed) and lands in
one of ``BINS`` bins, each bin keeps its minimum, and an empty bin borrows from the
next non-empty one. That costs one hash per shingle instead of one per shingle and
permutation, which is what makes a pure-Python MinHash fast enough to run on every
row. ``datasketch`` would add numpy and scipy for the same result.

Bands of ``ROWS_PER_BAND`` minima give LSH keys: two texts share at least one key
with probability ``1 - (1 - J**r)**b`` for Jaccard similarity J (about 0.5 at
J = 0.4 with 8 bands of 2).
"""

from __future__ import annotations

import struct
import zlib

BINS = 16
ROWS_PER_BAND = 2
BANDS = BINS // ROWS_PER_BAND
_EMPTY = 1 << 32
MAX_SHINGLES = 256


def shingles(words: list[str], n: int = 3) -> list[bytes]:
    """Word n-grams (the whole text when shorter), at most MAX_SHINGLES of them."""
    if len(words) < n:
        return [" ".join(words).encode()] if words else []
    stop = min(len(words) - n + 1, MAX_SHINGLES)
    return [" ".join(words[i : i + n]).encode() for i in range(stop)]


def signature(items: list[bytes]) -> list[int]:
    """BINS minima (all empty when there are no shingles)."""
    mins = [_EMPTY] * BINS
    for h in map(zlib.crc32, items):
        b = h & (BINS - 1)
        mins[b] = min(mins[b], h)
    if _EMPTY in mins and len(set(mins)) > 1:
        for i in range(BINS):  # densify: borrow from the next non-empty bin
            j = i
            while mins[j % BINS] == _EMPTY:
                j += 1
            if j != i:
                mins[i] = mins[j % BINS] ^ (j - i) * 0x9E3779B1 & 0xFFFFFFFF
    return mins


def band_keys(sig: list[int]) -> list[int]:
    """One key per band; equal keys in the same band mean a likely near-duplicate."""
    r = ROWS_PER_BAND
    return [hash((band, *sig[band * r : band * r + r])) for band in range(BANDS)]


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return sum(x == y for x, y in zip(a, b, strict=True)) / BINS


_PACK = struct.Struct(f"<{BINS}Q")


def pack(sig: list[int]) -> bytes:
    return _PACK.pack(*sig)


def unpack(data: bytes) -> list[int]:
    return list(_PACK.unpack(data))
