"""Keys: generated, saved encrypted, loaded back, signing and verifying; wrong ones refused."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bastion.crypto import KeyFileError
from bastion.crypto import keys as k
from bastion.errors import VerificationError


@pytest.mark.parametrize("kind", ["ecdsa-p256", "ed25519"])
def test_round_trip_encrypted(kind: k.KeyType) -> None:
    key = k.generate(kind)
    pem = k.private_pem(key, passphrase=b"correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in pem
    loaded = k.load_private(pem, passphrase=b"correct horse")
    public = k.load_public(k.public_pem(key))
    signature = k.sign(loaded, b"message")
    assert k.verify(public, signature, b"message") is None
    with pytest.raises(VerificationError):
        k.verify(public, signature, b"messagE")


def test_wrong_or_missing_passphrase_is_a_key_error() -> None:
    pem = k.private_pem(k.generate(), passphrase=b"right")
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        k.load_private(pem, passphrase=b"wrong")
    with pytest.raises(KeyFileError):
        k.load_private(pem, passphrase=None)


def test_empty_passphrase_is_refused() -> None:
    with pytest.raises(KeyFileError, match="empty passphrase"):
        k.private_pem(k.generate(), passphrase=b"")


def test_unsupported_curve_and_garbage_are_refused() -> None:
    weird = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(KeyFileError, match="unsupported elliptic curve"):
        k.load_private(k.private_pem(weird, passphrase=None), passphrase=None)  # type: ignore[arg-type]
    with pytest.raises(KeyFileError):
        k.load_public(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


def test_key_hint_is_sha256_of_the_public_pem() -> None:
    import hashlib

    key = k.generate()
    assert k.key_hint(key.public_key()) == hashlib.sha256(k.public_pem(key)).hexdigest()


@pytest.mark.parametrize("passphrase", [None, b"pw"])
def test_existing_traditional_openssl_keys_load(passphrase: bytes | None) -> None:
    # What `openssl ecparam -genkey` writes: "BEGIN EC PRIVATE KEY", maybe encrypted.
    from cryptography.hazmat.primitives import serialization as s

    key = ec.generate_private_key(ec.SECP256R1())
    enc = s.BestAvailableEncryption(passphrase) if passphrase else s.NoEncryption()
    pem = key.private_bytes(s.Encoding.PEM, s.PrivateFormat.TraditionalOpenSSL, enc)
    assert pem.startswith(b"-----BEGIN EC PRIVATE KEY-----")
    loaded = k.load_private(pem, passphrase=passphrase)
    assert k.public_pem(loaded) == k.public_pem(key)
