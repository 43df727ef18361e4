"""Sign and verify with the library: every kind of change is named; bad input never passes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bastion.crypto import FileChangedError
from bastion.crypto import keys as k
from bastion.errors import VerificationError
from bastion.integrity import (
    BadBundleError,
    CertificateSigner,
    CertificateVerifier,
    KeySigner,
    KeyVerifier,
    ModelMismatchError,
    ModelPathError,
    hash_model,
    serialization_for,
    sign_model,
    verify_model,
)
from tests.integrity.conftest import KeyFiles, Pki


def _signer(key: KeyFiles) -> KeySigner:
    return KeySigner.from_file(key.private, passphrase=None)


def _verifier(key: KeyFiles) -> KeyVerifier:
    return KeyVerifier.from_file(key.public)


@pytest.mark.parametrize(
    ("hash_type", "method"), [("sha256", "files"), ("sha256", "shards"), ("blake3", "files")]
)
def test_round_trip(model: Path, ec_key: KeyFiles, hash_type: str, method: str) -> None:
    out = sign_model(
        model,
        _signer(ec_key),
        hash_type=hash_type,
        method=method,
        shard_size=65536,  # type: ignore[arg-type]
    )
    assert out == model / "model.sig"
    assert verify_model(model, _verifier(ec_key)) is None


def test_each_change_is_named(model: Path, ec_key: KeyFiles) -> None:
    sign_model(model, _signer(ec_key))
    (model / "config.json").write_text('{"layers": 3}\n')
    (model / "tokenizer" / "vocab.txt").unlink()
    (model / "extra.py").write_text("import os\n")
    with pytest.raises(ModelMismatchError) as info:
        verify_model(model, _verifier(ec_key))
    got = {(d.path, d.change) for d in info.value.differences}
    assert got == {
        ("config.json", "changed"),
        ("tokenizer/vocab.txt", "removed"),
        ("extra.py", "added"),
    }
    assert "config.json" in str(info.value)


def test_shard_change_names_the_file_once(model: Path, ec_key: KeyFiles) -> None:
    sign_model(model, _signer(ec_key), method="shards", shard_size=1000)
    data = bytearray((model / "weights.bin").read_bytes())
    data[5000] ^= 1
    data[9000] ^= 1
    (model / "weights.bin").write_bytes(bytes(data))
    with pytest.raises(ModelMismatchError) as info:
        verify_model(model, _verifier(ec_key))
    assert [(d.path, d.change) for d in info.value.differences] == [("weights.bin", "changed")]


def test_git_files_and_the_signature_are_ignored(model: Path, ec_key: KeyFiles) -> None:
    sign_model(model, _signer(ec_key))
    (model / ".git" / "HEAD").write_text("changed\n")
    (model / ".gitignore").write_text("*.tmp\n")
    verify_model(model, _verifier(ec_key))


def test_wrong_key_is_refused(model: Path, ec_key: KeyFiles, other_key: KeyFiles) -> None:
    sign_model(model, _signer(ec_key))
    with pytest.raises(VerificationError, match="different key"):
        verify_model(model, _verifier(other_key))


@pytest.mark.parametrize("files", [0, 1, 3])
def test_wrong_key_is_refused_whatever_the_number_of_files(
    tmp_path: Path, ec_key: KeyFiles, other_key: KeyFiles, files: int
) -> None:
    # The signature is checked while the files hash: an empty folder, one file (no
    # workers) and several must all check it.
    model = tmp_path / "m"
    model.mkdir()
    for i in range(files):
        (model / f"w{i}.bin").write_bytes(bytes([i]) * 1000)
    sign_model(model, _signer(ec_key))
    verify_model(model, _verifier(ec_key))
    with pytest.raises(VerificationError, match="different key"):
        verify_model(model, _verifier(other_key))
    with pytest.raises(VerificationError, match="different key"):
        verify_model(model, _verifier(other_key), workers=1)


def test_wrong_key_without_hint_still_fails_on_the_signature(
    model: Path, ec_key: KeyFiles, other_key: KeyFiles
) -> None:
    import json

    sign_model(model, _signer(ec_key))
    doc = json.loads((model / "model.sig").read_text())
    del doc["verificationMaterial"]["publicKey"]["hint"]
    (model / "model.sig").write_text(json.dumps(doc))
    verify_model(model, _verifier(ec_key))
    with pytest.raises(VerificationError, match="does not match the public key"):
        verify_model(model, _verifier(other_key))


def test_ed25519_round_trip(model: Path) -> None:
    key = k.generate("ed25519")
    sign_model(model, KeySigner(key))
    verify_model(model, KeyVerifier(key.public_key()))
    (model / "weights.bin").write_bytes(b"swapped")
    with pytest.raises(ModelMismatchError):
        verify_model(model, KeyVerifier(key.public_key()))


def test_single_file_model(tmp_path: Path, ec_key: KeyFiles) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(os.urandom(1000))
    out = sign_model(weights, _signer(ec_key))
    assert out == tmp_path / "model.sig"
    verify_model(weights, _verifier(ec_key))
    weights.write_bytes(os.urandom(1000))
    with pytest.raises(ModelMismatchError, match=r"changed: \."):
        verify_model(weights, _verifier(ec_key))


def test_certificate_mode(model: Path, pki: Pki) -> None:
    signer = CertificateSigner.from_files(
        pki.leaf_key, pki.leaf, [pki.intermediate], passphrase=None
    )
    sign_model(model, signer)
    verify_model(model, CertificateVerifier.from_files([pki.root]))
    with pytest.raises(VerificationError, match="trusted"):
        verify_model(model, CertificateVerifier.from_files([pki.other_root]))
    from cryptography import x509

    leaf_key = x509.load_pem_x509_certificate(pki.leaf.read_bytes()).public_key()
    with pytest.raises(VerificationError, match="--cert-chain"):
        verify_model(model, KeyVerifier(leaf_key))  # type: ignore[arg-type]


def test_certificate_must_match_the_key(pki: Pki, ec_key: KeyFiles) -> None:
    with pytest.raises(k.KeyFileError, match="does not match"):
        CertificateSigner.from_files(ec_key.private, pki.leaf, passphrase=None)


def test_symlink_out_of_the_model_is_refused(model: Path, ec_key: KeyFiles, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("not part of the model\n")
    (model / "link.txt").symlink_to(secret)
    with pytest.raises(ModelPathError, match="symlink"):
        sign_model(model, _signer(ec_key))
    with pytest.raises(ModelPathError, match="outside the model"):
        sign_model(model, _signer(ec_key), allow_symlinks=True)


def test_symlink_inside_the_model_only_when_allowed(model: Path, ec_key: KeyFiles) -> None:
    sign_model(model, _signer(ec_key))
    (model / "alias.json").symlink_to(model / "config.json")
    with pytest.raises(ModelPathError, match="allow_symlinks is off"):
        verify_model(model, _verifier(ec_key))
    with pytest.raises(ModelMismatchError, match=r"added: alias\.json"):
        verify_model(model, _verifier(ec_key), allow_symlinks=True)


def test_fifo_is_refused(model: Path, ec_key: KeyFiles) -> None:
    os.mkfifo(model / "pipe")
    with pytest.raises(ModelPathError, match="not a regular file"):
        sign_model(model, _signer(ec_key))


def test_file_changed_during_hashing_is_an_error(model: Path) -> None:
    # One worker hashes in walk order (a-b.txt before config.json); config.json grows
    # after it was listed and before it is hashed.
    grown: list[bool] = []

    def grow_config(item: object) -> None:
        if not grown:
            grown.append(True)
            with (model / "config.json").open("ab") as out:
                out.write(b" ")

    with pytest.raises(FileChangedError, match=r"config\.json"):
        hash_model(model, serialization_for(), workers=1, on_done=grow_config)


def test_missing_or_truncated_signature(model: Path, ec_key: KeyFiles) -> None:
    with pytest.raises(BadBundleError, match="cannot read signature"):
        verify_model(model, _verifier(ec_key))
    sign_model(model, _signer(ec_key))
    data = (model / "model.sig").read_bytes()
    (model / "model.sig").write_bytes(data[: len(data) // 2])
    with pytest.raises(BadBundleError):
        verify_model(model, _verifier(ec_key))


def test_ignore_paths_are_recorded_and_honoured(model: Path, ec_key: KeyFiles) -> None:
    sign_model(model, _signer(ec_key), ignore_paths=["tokenizer"])
    (model / "tokenizer" / "vocab.txt").write_text("changed\n")
    verify_model(model, _verifier(ec_key))
    (model / "config.json").write_text("changed\n")
    with pytest.raises(ModelMismatchError, match=r"config\.json"):
        verify_model(model, _verifier(ec_key))


def test_git_files_kept_when_the_signer_kept_them(model: Path, ec_key: KeyFiles) -> None:
    sign_model(model, _signer(ec_key), ignore_git_paths=False)
    verify_model(model, _verifier(ec_key))
    (model / ".git" / "HEAD").write_text("changed\n")
    with pytest.raises(ModelMismatchError, match=r"changed: \.git/HEAD"):
        verify_model(model, _verifier(ec_key))


def test_signature_in_a_subfolder_is_left_out(model: Path, ec_key: KeyFiles) -> None:
    sig = sign_model(model, _signer(ec_key), signature_path=model / "tokenizer" / "sig.json")
    verify_model(model, _verifier(ec_key), signature_path=sig)
