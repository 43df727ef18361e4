"""Signers and verifiers: a key pair (model_signing's ``key`` mode) or an X.509
certificate chain (``certificate`` mode)."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bastion.crypto import certs as _certs
from bastion.crypto import keys as _keys
from bastion.errors import VerificationError
from bastion.integrity.bundle import Bundle, pae, pae_v02

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

    from bastion.crypto.keys import PrivateKey, PublicKey


def _read(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise _keys.KeyFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from None


def _check_signature(key: PublicKey, bundle: Bundle) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        _keys.verify(key, bundle.signature, pae(bundle.payload_type, bundle.payload))
    except VerificationError:
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise
        # model_signing 1.x still accepts 0.2's PAE; so do we, for ECDSA only.
        _keys.verify(key, bundle.signature, pae_v02(bundle.payload_type, bundle.payload))


class KeySigner:
    """Signs with a private key; the bundle names the key by its hint."""

    def __init__(self, private_key: PrivateKey) -> None:
        self._key = private_key

    @classmethod
    def from_file(cls, path: Path, *, passphrase: bytes | None) -> KeySigner:
        return cls(_keys.load_private(_read(path, "private key"), passphrase=passphrase))

    def sign(self, message: bytes) -> bytes:
        return _keys.sign(self._key, message)

    @property
    def key_hint(self) -> str | None:
        return _keys.key_hint(self._key.public_key())

    @property
    def certificates(self) -> tuple[bytes, ...]:
        return ()


class KeyVerifier:
    """Accepts bundles signed by the private half of ``public_key``."""

    def __init__(self, public_key: PublicKey) -> None:
        self._key = public_key

    @classmethod
    def from_file(cls, path: Path) -> KeyVerifier:
        return cls(_keys.load_public(_read(path, "public key")))

    def verify(self, bundle: Bundle) -> None:
        if bundle.certificates:
            raise VerificationError(
                "the bundle was signed with a certificate; verify it with --cert-chain"
            )
        if bundle.key_hint is not None and not hmac.compare_digest(
            bundle.key_hint.encode(), _keys.key_hint(self._key).encode()
        ):
            raise VerificationError(
                "the bundle was signed with a different key than the one given",
                hint="Check that you passed the public key of whoever signed the model.",
            )
        _check_signature(self._key, bundle)


class CertificateSigner(KeySigner):
    """Signs with a private key whose certificate (and chain) goes into the bundle."""

    def __init__(
        self, private_key: PrivateKey, certificate: Certificate, chain: Sequence[Certificate] = ()
    ) -> None:
        from cryptography.hazmat.primitives import serialization

        super().__init__(private_key)
        if _keys.public_pem(certificate.public_key()) != _keys.public_pem(private_key):  # type: ignore[arg-type]
            raise _keys.KeyFileError("the certificate's public key does not match the private key")
        der = serialization.Encoding.DER
        self._certs = tuple(c.public_bytes(der) for c in (certificate, *chain))

    @classmethod
    def from_files(
        cls, key: Path, certificate: Path, chain: Sequence[Path] = (), *, passphrase: bytes | None
    ) -> CertificateSigner:
        leaf = _certs.load_pem_chain(_read(certificate, "certificate"))
        rest = [c for p in chain for c in _certs.load_pem_chain(_read(p, "certificate chain"))]
        if len(leaf) != 1:
            raise _keys.KeyFileError(f"{certificate}: expected exactly one certificate")
        private = _keys.load_private(_read(key, "private key"), passphrase=passphrase)
        return cls(private, leaf[0], rest)

    @property
    def key_hint(self) -> str | None:
        return None

    @property
    def certificates(self) -> tuple[bytes, ...]:
        return self._certs


class CertificateVerifier:
    """Accepts bundles whose certificate chain leads to one of ``anchors``."""

    def __init__(self, anchors: Sequence[Certificate]) -> None:
        if not anchors:
            raise VerificationError("no trusted certificates given")
        self._anchors = tuple(anchors)

    @classmethod
    def from_files(cls, paths: Sequence[Path]) -> CertificateVerifier:
        anchors = [c for p in paths for c in _certs.load_pem_chain(_read(p, "certificate chain"))]
        return cls(anchors)

    def verify(self, bundle: Bundle) -> None:
        if not bundle.certificates:
            raise VerificationError(
                "the bundle was signed with a plain key, not a certificate; verify it with --key"
            )
        chain = [_certs.load_der(c) for c in bundle.certificates]
        key = _certs.verify_chain(chain, self._anchors)
        _check_signature(key, bundle)
