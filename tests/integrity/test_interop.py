"""Interoperability with OpenSSF model signing (the ``model-signing`` package), both ways.

Bundles Bastion writes are verified by model_signing (Python API and CLI), and bundles
model_signing writes (key and certificate modes) are verified by Bastion. A change to
the model fails on both sides.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import model_signing
import pytest

from bastion.integrity import (
    CertificateSigner,
    CertificateVerifier,
    KeySigner,
    KeyVerifier,
    ModelMismatchError,
    hash_model,
    serialization_for,
    sign_model,
    verify_model,
)
from bastion.integrity import statement as st
from tests.integrity.conftest import KeyFiles, Pki

MODEL_SIGNING = str(Path(sys.executable).with_name("model_signing"))


def ms(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MODEL_SIGNING, *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def ms_api_verify(model: Path, sig: Path, public: Path) -> None:
    model_signing.verifying.Config().use_elliptic_key_verifier(public_key=public).verify(model, sig)


@pytest.mark.parametrize(
    ("hash_type", "method"), [("sha256", "files"), ("sha256", "shards"), ("blake3", "files")]
)
def test_model_signing_api_verifies_bastion_bundles(
    model: Path, ec_key: KeyFiles, hash_type: str, method: str
) -> None:
    signer = KeySigner.from_file(ec_key.private, passphrase=None)
    sig = sign_model(model, signer, hash_type=hash_type, method=method, shard_size=100_000)  # type: ignore[arg-type]
    ms_api_verify(model, sig, ec_key.public)
    (model / "config.json").write_text("{}\n")
    with pytest.raises(ValueError, match=r"config\.json"):
        ms_api_verify(model, sig, ec_key.public)


def test_model_signing_cli_verifies_bastion_bundle(model: Path, ec_key: KeyFiles) -> None:
    sig = sign_model(model, KeySigner.from_file(ec_key.private, passphrase=None))
    proc = ms("verify", "key", model, "--signature", sig, "--public_key", ec_key.public)
    assert proc.returncode == 0, proc.stderr
    (model / "tokenizer" / "vocab.txt").unlink()
    proc = ms("verify", "key", model, "--signature", sig, "--public_key", ec_key.public)
    assert proc.returncode == 1
    assert "tokenizer/vocab.txt" in proc.stderr


def test_bastion_verifies_model_signing_key_bundle(
    model: Path, ec_key: KeyFiles, other_key: KeyFiles
) -> None:
    sig = model / "model.sig"
    proc = ms("sign", "key", model, "--signature", sig, "--private_key", ec_key.private)
    assert proc.returncode == 0, proc.stderr
    verify_model(model, KeyVerifier.from_file(ec_key.public))
    with pytest.raises(Exception, match="different key"):
        verify_model(model, KeyVerifier.from_file(other_key.public))
    (model / "weights.bin").write_bytes(b"tampered")
    with pytest.raises(ModelMismatchError, match=r"changed: weights\.bin"):
        verify_model(model, KeyVerifier.from_file(ec_key.public))


def test_bastion_verifies_model_signing_certificate_bundle(model: Path, pki: Pki) -> None:
    sig = model / "model.sig"
    proc = ms(
        "sign", "certificate", model, "--signature", sig,
        "--private_key", pki.leaf_key,
        "--signing_certificate", pki.leaf,
        "--certificate_chain", pki.intermediate,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    verify_model(model, CertificateVerifier.from_files([pki.root]))
    with pytest.raises(Exception, match="trusted"):
        verify_model(model, CertificateVerifier.from_files([pki.other_root]))


def test_model_signing_verifies_bastion_certificate_bundle(model: Path, pki: Pki) -> None:
    signer = CertificateSigner.from_files(
        pki.leaf_key, pki.leaf, [pki.intermediate], passphrase=None
    )
    sig = sign_model(model, signer)
    proc = ms(
        "verify", "certificate", model, "--signature", sig,
        "--certificate_chain", pki.root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


def test_same_manifest_and_order_as_model_signing(model: Path) -> None:
    ours = hash_model(model, serialization_for(ignore_paths=(".git", ".gitattributes")))
    theirs = model_signing.hashing.Config().hash(model)
    assert [(r.name, r.algorithm, r.digest) for r in ours.resources] == [
        (d.identifier, d.digest.algorithm, d.digest.digest_value)
        for d in theirs.resource_descriptors()
    ]
    ours_sharded = hash_model(
        model,
        serialization_for(
            method="shards", shard_size=1000, ignore_paths=(".git", ".gitattributes")
        ),
    )
    theirs_sharded = (
        model_signing.hashing.Config().use_shard_serialization(shard_size=1000).hash(model)
    )
    assert [(r.name, r.algorithm) for r in ours_sharded.resources] == [
        (d.identifier, d.digest.algorithm) for d in theirs_sharded.resource_descriptors()
    ]


def test_statement_fields_match_model_signing_payload(model: Path) -> None:
    from google.protobuf import json_format
    from model_signing._signing import signing as ms_signing

    theirs = model_signing.hashing.Config().hash(model)
    theirs_json = json.loads(json_format.MessageToJson(ms_signing.Payload(theirs).statement.pb))
    ours = st.decode(json.dumps(theirs_json).encode())
    ours_json = json.loads(st.encode(ours))
    # model_signing lists ignore_paths from a set (any order); everything else is equal.
    for doc in (ours_json, theirs_json):
        doc["predicate"]["serialization"]["ignore_paths"].sort()
    assert ours_json == theirs_json


def test_odd_file_names_both_ways(tmp_path: Path, ec_key: KeyFiles) -> None:
    model = tmp_path / "odd"
    model.mkdir()
    for name in ("名前.bin", "with space.txt", "back\\slash", "colon:name", "-dash", "nl\nname"):
        (model / name).write_bytes(name.encode())
    sig = sign_model(model, KeySigner.from_file(ec_key.private, passphrase=None))
    ms_api_verify(model, sig, ec_key.public)
    verify_model(model, KeyVerifier.from_file(ec_key.public))
    theirs = tmp_path / "theirs.sig"
    model_signing.signing.Config().use_elliptic_key_signer(private_key=ec_key.private).sign(
        model, theirs
    )
    verify_model(model, KeyVerifier.from_file(ec_key.public), signature_path=theirs)
