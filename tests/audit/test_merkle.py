"""The proof algorithms against RFC 9162's recursive definitions, for every index."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    MemoryTree,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from bastion.errors import VerificationError


def mth(entries: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 section 2.1.1."""
    n = len(entries)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_hash(entries[0])
    k = 1 << ((n - 1).bit_length() - 1)
    return node_hash(mth(entries[:k]), mth(entries[k:]))


def entries(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


def test_known_root_of_the_empty_and_single_leaf_trees() -> None:
    assert MemoryTree().root() == EMPTY_ROOT
    assert MemoryTree([b""]).root().hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@given(st.integers(min_value=0, max_value=300))
def test_root_matches_the_recursive_definition(n: int) -> None:
    data = entries(n)
    assert MemoryTree(data).root() == mth(data)


@settings(max_examples=60)
@given(st.integers(min_value=1, max_value=130))
def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not(n: int) -> None:
    tree = MemoryTree(entries(n))
    root = tree.root()
    for i in range(n):
        proof = inclusion_proof(tree, i, n)
        verify_inclusion(tree.subtree(0, i), i, n, proof, root)
        with pytest.raises(VerificationError):
            verify_inclusion(leaf_hash(b"forged"), i, n, proof, root)
        if n > 1:
            with pytest.raises(VerificationError):
                verify_inclusion(tree.subtree(0, i), (i + 1) % n, n, proof, root)


@settings(max_examples=40)
@given(st.integers(min_value=1, max_value=70))
def test_every_consistency_proof_verifies_and_a_changed_prefix_fails(n: int) -> None:
    data = entries(n)
    tree = MemoryTree(data)
    for m in range(n + 1):
        proof = consistency_proof(tree, m, n)
        old = mth(data[:m])
        verify_consistency(m, n, old, tree.root(), proof)
        if 0 < m < n:
            forged = mth([b"x", *data[1:m]])
            with pytest.raises(VerificationError):
                verify_consistency(m, n, forged, tree.root(), proof)
            with pytest.raises(VerificationError):
                verify_consistency(m, n, old, tree.root(), proof[:-1])


@given(
    st.integers(min_value=1, max_value=200),
    st.data(),
)
def test_proofs_of_a_prefix_use_only_that_prefix(n: int, data: st.DataObject) -> None:
    tree = MemoryTree(entries(n + 50))
    i = data.draw(st.integers(min_value=0, max_value=n - 1))
    verify_inclusion(tree.subtree(0, i), i, n, inclusion_proof(tree, i, n), mth(entries(n)))


@given(st.lists(st.binary(max_size=32), max_size=64), st.lists(st.binary(max_size=32)))
def test_random_proof_bytes_never_crash_the_verifiers(
    proof: list[bytes], other: list[bytes]
) -> None:
    for size in (1, 2, 7, 64):
        with pytest.raises(VerificationError):
            verify_inclusion(b"\x00" * 32, 0, size, proof, b"\x01" * 32)
    with pytest.raises(VerificationError):
        verify_consistency(3, 9, b"\x00" * 32, b"\x01" * 32, other)


def test_compact_range_round_trips_and_refuses_a_bad_shape() -> None:
    r = CompactRange()
    for e in entries(13):
        r.append(leaf_hash(e))
    again = CompactRange.unpack(13, r.pack())
    assert again.root() == r.root() == mth(entries(13))
    with pytest.raises(ValueError, match="set bit"):
        CompactRange.unpack(12, r.pack())


def test_out_of_range_requests_are_refused() -> None:
    tree = MemoryTree(entries(4))
    with pytest.raises(ValueError, match="not in a tree"):
        inclusion_proof(tree, 4, 4)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(tree, 5, 4)
    with pytest.raises(VerificationError, match="shrink"):
        verify_consistency(5, 4, b"", b"", [])
