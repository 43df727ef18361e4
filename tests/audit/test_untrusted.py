"""Parsers of untrusted input (signed notes, proof documents, stored entries) fail with
VerificationError, never anything else."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from bastion.audit.canonical import decode_entry, entry_bytes, event_body
from bastion.audit.checkpoint import Checkpoint, NoteSigner
from bastion.audit.proofs import check_proof
from bastion.errors import VerificationError

from .conftest import ORIGIN, make_events

SIGNER = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())


@given(st.text(max_size=400))
def test_random_notes_are_refused_cleanly(text: str) -> None:
    with pytest.raises(VerificationError):
        SIGNER.verify(text)


@given(st.integers(min_value=0, max_value=300), st.integers(min_value=0))
def test_a_mutated_signed_note_is_refused(pos: int, size: int) -> None:
    note = SIGNER.sign(Checkpoint(ORIGIN, size, b"\x07" * 32))
    assert SIGNER.verify(note).size == size
    pos %= len(note)
    mutated = note[:pos] + ("x" if note[pos] != "x" else "y") + note[pos + 1 :]
    with pytest.raises(VerificationError):
        SIGNER.verify(mutated)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(["type", "proof", "entry", "index", "checkpoint", "old", "new"]),
        json_values,
    )
)
def test_random_proof_documents_are_refused_cleanly(doc: dict[str, object]) -> None:
    with pytest.raises(VerificationError):
        check_proof(json.dumps(doc), SIGNER)


@given(st.binary(max_size=300))
def test_random_entry_bytes_are_refused_cleanly(data: bytes) -> None:
    with pytest.raises(VerificationError):
        decode_entry(data)


def test_entries_round_trip() -> None:
    for i, event in enumerate(make_events(20)):
        index, again = decode_entry(entry_bytes(i, event_body(event)))
        assert (index, again) == (i, event)
