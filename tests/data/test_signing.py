"""Dataset signatures: the Merkle root, the bundle, and verification naming the first change."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from bastion.crypto import keys as k
from bastion.data import DatasetError
from bastion.integrity import BadBundleError, KeySigner, KeyVerifier, sign_model
from bastion.integrity.datasets import (
    DatasetMismatchError,
    MerkleRoot,
    default_signature_path,
    record_digest,
    sign_dataset,
    verify_dataset,
)
from bastion.integrity.statement import BadStatementError


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1, recursively, as written."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:split]) + _mth(leaves[split:])).digest()


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 13, 64, 100])
def test_streaming_merkle_root_is_rfc6962(n: int) -> None:
    leaves = [hashlib.sha256(b"\x00%d" % i).digest() for i in range(n)]
    tree = MerkleRoot()
    for leaf in leaves:
        tree.add(leaf)
    assert tree.root() == _mth(leaves)


def test_record_digest_ignores_key_order_and_file_whitespace() -> None:
    assert record_digest({"a": 1, "b": "x"}) == record_digest({"b": "x", "a": 1})
    assert record_digest({"a": 1}) != record_digest({"a": 2})


@pytest.fixture
def keypair() -> tuple[KeySigner, KeyVerifier]:
    key = k.generate("ed25519")
    return KeySigner(key), KeyVerifier(key.public_key())


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [{"prompt": f"p{i}", "response": f"r{i}"} for i in range(50)]


def test_sign_and_verify(tmp_path: Path, keypair: tuple[KeySigner, KeyVerifier]) -> None:
    signer, verifier = keypair
    data = _write(tmp_path / "train.jsonl", ROWS)
    sig = sign_dataset(data, signer)
    assert sig == default_signature_path(data) == tmp_path / "train.jsonl.sig"
    manifest = verify_dataset(data, verifier)
    assert manifest.records == 50
    # Reformatting the file (spaces, key order) does not change the records.
    data.write_text(
        "".join(json.dumps({"response": r["response"], "prompt": r["prompt"]}, indent=None) + "\n"
                for r in ROWS)
    )  # fmt: skip
    verify_dataset(data, verifier)


@pytest.mark.parametrize(
    ("rows", "index", "what"),
    [
        ([*ROWS[:17], {"prompt": "p17", "response": "poisoned"}, *ROWS[18:]], 17, "differs"),
        ([*ROWS, {"prompt": "extra", "response": "x"}], 50, "added"),
        (ROWS[:40], 40, "removed"),
        (ROWS[:10] + ROWS[11:], 10, "differs"),
    ],
)
def test_verify_names_the_first_difference(
    tmp_path: Path,
    keypair: tuple[KeySigner, KeyVerifier],
    rows: list[dict[str, str]],
    index: int,
    what: str,
) -> None:
    signer, verifier = keypair
    data = _write(tmp_path / "train.jsonl", ROWS)
    sign_dataset(data, signer)
    _write(data, rows)
    with pytest.raises(DatasetMismatchError, match=what) as info:
        verify_dataset(data, verifier)
    assert info.value.index == index


def test_wrong_key_and_tampered_bundle(
    tmp_path: Path, keypair: tuple[KeySigner, KeyVerifier]
) -> None:
    signer, _ = keypair
    data = _write(tmp_path / "train.jsonl", ROWS)
    sig = sign_dataset(data, signer)
    other = KeyVerifier(k.generate("ed25519").public_key())
    with pytest.raises(Exception, match=r"(?i)signature|key"):
        verify_dataset(data, other)
    sig.write_bytes(sig.read_bytes()[:-40])
    with pytest.raises(BadBundleError):
        verify_dataset(data, keypair[1])


def test_a_model_signature_is_not_a_dataset_signature(
    tmp_path: Path, keypair: tuple[KeySigner, KeyVerifier]
) -> None:
    signer, verifier = keypair
    data = _write(tmp_path / "train.jsonl", ROWS)
    sign_model(data, signer, signature_path=tmp_path / "train.jsonl.sig")
    with pytest.raises(BadStatementError, match="not a dataset signature"):
        verify_dataset(data, verifier)


def test_unreadable_rows_cannot_be_signed(
    tmp_path: Path, keypair: tuple[KeySigner, KeyVerifier]
) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text('{"prompt": "a", "response": "b"}\n{broken\n')
    with pytest.raises(DatasetError, match="cannot sign"):
        sign_dataset(data, keypair[0])
