"""Signing keys: generate, save (private keys encrypted with a passphrase), load, sign, verify.

ECDSA P-256 is the default, as model_signing uses (P-384 and P-521 load and verify too).
Ed25519 is offered for Bastion-only use: model_signing does not accept it.
``cryptography`` is imported when a function here is first called, never at import.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Literal, TypeAlias

from bastion.errors import BastionError, VerificationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ec import (
        EllipticCurvePrivateKey,
        EllipticCurvePublicKey,
    )
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

    PrivateKey: TypeAlias = EllipticCurvePrivateKey | Ed25519PrivateKey
    PublicKey: TypeAlias = EllipticCurvePublicKey | Ed25519PublicKey

KeyType = Literal["ecdsa-p256", "ed25519"]
KEY_TYPES: tuple[KeyType, ...] = ("ecdsa-p256", "ed25519")
#: Curves model_signing accepts (Sigstore's protobuf specs).
SUPPORTED_CURVES = ("secp256r1", "secp384r1", "secp521r1")


class KeyFileError(BastionError):
    """A key file cannot be read, decrypted or used."""

    hint = "Check the key file, its type (PEM, ECDSA P-256/384/521 or Ed25519) and passphrase."


def generate(key_type: KeyType = "ecdsa-p256") -> PrivateKey:
    """A new private key."""
    if key_type == "ecdsa-p256":
        from cryptography.hazmat.primitives.asymmetric import ec

        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ed25519":
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key type {key_type!r}; use one of {KEY_TYPES}")


def private_pem(key: PrivateKey, *, passphrase: bytes | None) -> bytes:
    """PKCS#8 PEM, encrypted with ``passphrase`` (best available scheme).

    ``passphrase=None`` writes an unencrypted key; callers must ask for that explicitly.
    """
    from cryptography.hazmat.primitives import serialization as s

    if passphrase is not None and not passphrase:
        raise KeyFileError("an empty passphrase would leave the private key unprotected")
    enc: s.KeySerializationEncryption = (
        s.BestAvailableEncryption(passphrase) if passphrase is not None else s.NoEncryption()
    )
    return key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, enc)


def public_pem(key: PrivateKey | PublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM of a key (or of a private key's public half)."""
    from cryptography.hazmat.primitives import serialization as s
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    pub = (
        key.public_key()
        if isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)
        else key
    )
    return pub.public_bytes(s.Encoding.PEM, s.PublicFormat.SubjectPublicKeyInfo)


def key_hint(key: PublicKey) -> str:
    """model_signing's key identifier: SHA-256 (hex) of the public key's PEM."""
    return hashlib.sha256(public_pem(key)).hexdigest()


def _check(key: object) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if key.curve.name not in SUPPORTED_CURVES:
            raise KeyFileError(f"unsupported elliptic curve {key.curve.name}")
        return
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return
    raise KeyFileError(f"unsupported key type {type(key).__name__}")


def load_private(data: bytes, *, passphrase: bytes | None) -> PrivateKey:
    """A private key from PEM; ``passphrase`` decrypts it (None for an unencrypted key)."""
    from cryptography.hazmat.primitives import serialization as s

    try:
        key = s.load_pem_private_key(data, passphrase or None)
    except TypeError as exc:  # encrypted without passphrase, or the reverse
        raise KeyFileError(f"cannot load private key: {exc}") from None
    except ValueError:
        raise KeyFileError(
            "cannot load private key: not a PEM private key, or wrong passphrase"
        ) from None
    _check(key)
    return key  # type: ignore[return-value]


def load_public(data: bytes) -> PublicKey:
    """A public key from PEM (SubjectPublicKeyInfo)."""
    from cryptography.hazmat.primitives import serialization as s

    try:
        key = s.load_pem_public_key(data)
    except ValueError:
        raise KeyFileError("cannot load public key: not a PEM public key") from None
    _check(key)
    return key  # type: ignore[return-value]


def _ecdsa(key: EllipticCurvePrivateKey | EllipticCurvePublicKey) -> object:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    size = key.curve.key_size
    algo = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[size]
    return ec.ECDSA(algo)


def sign(key: PrivateKey, message: bytes) -> bytes:
    """Sign ``message``: ECDSA (DER) with the curve's hash, as model_signing; or Ed25519."""
    from cryptography.hazmat.primitives.asymmetric import ec

    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(message, _ecdsa(key))  # type: ignore[arg-type]
    return key.sign(message)


def verify(key: PublicKey, signature: bytes, message: bytes) -> None:
    """Return None if ``signature`` is ``key``'s over ``message``; else raise VerificationError."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, _ecdsa(key))  # type: ignore[arg-type]
        else:
            key.verify(signature, message)
    except InvalidSignature:
        raise VerificationError(
            "the signature does not match the public key (wrong key, or the bundle was altered)"
        ) from None
