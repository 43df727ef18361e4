"""Merkle tree hashing, proofs and their verification, as in RFC 9162 section 2.1.

Hand-written because the algorithms are short and exactly specified, and no well-kept
Python library implements both the proofs and their verification for RFC 6962 trees
(the ``merkle`` packages on PyPI hash differently or lack consistency proofs).

Leaves are hashed ``SHA-256(0x00 || entry)`` and interior nodes
``SHA-256(0x01 || left || right)``. Proof *generation* works on any store that can
return the hash of a complete, aligned subtree (:class:`SubtreeSource`); the log keeps
those in the database, :class:`MemoryTree` keeps them in a list (tests, small tools).
Proof *verification* needs nothing but hashes, so an auditor can run it offline.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from bastion.errors import VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class SubtreeSource(Protocol):
    """Hash of the complete subtree at ``level`` covering leaves
    ``[index * 2**level, (index + 1) * 2**level)``; level 0 is a leaf hash."""

    def subtree(self, level: int, index: int) -> bytes: ...


def _largest_power_below(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _decompose(start: int, end: int) -> Iterator[tuple[int, int]]:
    """Split ``[start, end)`` into maximal aligned complete subtrees, left to right."""
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while (1 << level) > end - start:
            level -= 1
        yield level, start >> level
        start += 1 << level


def range_hash(source: SubtreeSource, start: int, end: int) -> bytes:
    """MTH of leaves ``[start, end)`` where ``start`` is aligned to a power of two at
    least as large as the range (true of every subtree the RFC's proofs use)."""
    parts = [source.subtree(level, index) for level, index in _decompose(start, end)]
    result = parts[-1]
    for part in reversed(parts[:-1]):
        result = node_hash(part, result)
    return result


def root_hash(source: SubtreeSource, size: int) -> bytes:
    return EMPTY_ROOT if size == 0 else range_hash(source, 0, size)


def inclusion_proof(source: SubtreeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) from RFC 9162 section 2.1.3.1."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} entries")
    proof: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_below(end - start)
        if index < start + k:
            proof.append(range_hash(source, start + k, end))
            end = start + k
        else:
            proof.append(range_hash(source, start, start + k))
            start += k
    proof.reverse()
    return proof


def consistency_proof(source: SubtreeSource, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) from RFC 9162 section 2.1.4.1."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from {old_size} to {new_size} entries")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, complete = 0, new_size, True
    m = old_size
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(range_hash(source, start, end))
            break
        k = _largest_power_below(n)
        if m <= k:
            proof.append(range_hash(source, start + k, end))
            end = start + k
        else:
            proof.append(range_hash(source, start, start + k))
            start += k
            m -= k
            complete = False
    proof.reverse()
    return proof


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 section 2.1.3.2: ``leaf`` (a leaf hash) is entry ``index`` of the tree
    of ``size`` entries whose root is ``root``. Returns None or raises VerificationError."""
    if not 0 <= index < size:
        raise VerificationError(f"index {index} is outside a tree of {size} entries")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof is too short")
    if r != root:
        raise VerificationError(f"entry {index} is not in the tree with this root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 section 2.1.4.2: the tree of ``new_size`` entries extends the tree of
    ``old_size`` entries. Returns None or raises VerificationError."""
    if not 0 <= old_size <= new_size:
        raise VerificationError(f"a log cannot shrink from {old_size} to {new_size} entries")
    if old_size == new_size:
        if proof:
            raise VerificationError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise VerificationError("two roots for the same tree size differ")
        return
    if old_size == 0:
        if proof:
            raise VerificationError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise VerificationError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root starts the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is too short")
    if fr != old_root:
        raise VerificationError(f"the log's first {old_size} entries were changed")
    if sr != new_root:
        raise VerificationError(f"the new root does not match the {new_size}-entry tree")


@dataclass(slots=True)
class CompactRange:
    """The right edge of a tree: the roots of its maximal complete subtrees, largest
    first (one per set bit of ``size``). Appending a leaf is O(log n) hashes and says
    which complete subtrees it finished, so a store can keep them for proofs."""

    size: int = 0
    hashes: list[bytes] | None = None

    def __post_init__(self) -> None:
        if self.hashes is None:
            self.hashes = []
        if len(self.hashes) != self.size.bit_count():
            raise ValueError("a compact range needs one hash per set bit of its size")

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns the completed subtrees ``(level, index, hash)`` above
        level 0, lowest first."""
        hashes = self.hashes
        assert hashes is not None
        done: list[tuple[int, int, bytes]] = []
        h, level, n = leaf, 0, self.size
        while n & 1:
            h = node_hash(hashes.pop(), h)
            level += 1
            n >>= 1
            done.append((level, n, h))
        hashes.append(h)
        self.size += 1
        return done

    def root(self) -> bytes:
        hashes = self.hashes
        assert hashes is not None
        if not hashes:
            return EMPTY_ROOT
        result = hashes[-1]
        for h in reversed(hashes[:-1]):
            result = node_hash(h, result)
        return result

    def pack(self) -> bytes:
        return b"".join(self.hashes or [])

    @classmethod
    def unpack(cls, size: int, packed: bytes) -> CompactRange:
        hashes = [packed[i : i + HASH_SIZE] for i in range(0, len(packed), HASH_SIZE)]
        return cls(size, hashes)


class MemoryTree:
    """A whole tree in memory: every level of complete subtrees. For tests and tools."""

    def __init__(self, entries: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        self._range = CompactRange()
        for entry in entries:
            self.append(entry)

    def append(self, entry: bytes) -> int:
        leaf = leaf_hash(entry)
        self.levels[0].append(leaf)
        for level, index, h in self._range.append(leaf):
            if len(self.levels) <= level:
                self.levels.append([])
            assert len(self.levels[level]) == index
            self.levels[level].append(h)
        return self._range.size - 1

    @property
    def size(self) -> int:
        return self._range.size

    def root(self) -> bytes:
        return self._range.root()

    def subtree(self, level: int, index: int) -> bytes:
        return self.levels[level][index]
