"""X.509 certificate chains for model_signing's certificate mode.

A bundle carries the signing certificate first, then intermediates. It verifies when:
each certificate is signed by the next (or by a trust anchor), every issuer is a CA,
every certificate is valid at the signing certificate's ``notBefore`` (model_signing's
rule: the signature is assumed made when the certificate was issued), the chain ends
at one of the trust anchors the verifier gave, and the signing certificate may sign
(KeyUsage digitalSignature or ExtendedKeyUsage codeSigning).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from bastion.errors import VerificationError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.hashes import HashAlgorithm
    from cryptography.x509 import Certificate

    from bastion.crypto.keys import PublicKey

#: A longer chain is refused rather than walked.
MAX_CHAIN = 10


def load_pem_chain(data: bytes) -> list[Certificate]:
    """Every certificate in a PEM file (a chain or a bundle of trust anchors)."""
    from cryptography import x509

    from bastion.crypto.keys import KeyFileError

    try:
        return list(x509.load_pem_x509_certificates(data))
    except ValueError:
        raise KeyFileError("cannot read the certificate file as PEM certificates") from None


def load_der(data: bytes) -> Certificate:
    from cryptography import x509

    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise VerificationError("a certificate in the bundle is not valid DER") from None


def _valid_at(cert: Certificate, when: datetime) -> None:
    if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
        raise VerificationError(
            f"certificate {cert.subject.rfc4514_string()} is not valid at {when}"
        )


def _is_ca(cert: Certificate) -> bool:
    from cryptography import x509

    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _issued_by(cert: Certificate, issuer: Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError):
        return False
    except InvalidSignature:
        return False
    return True


def _may_sign(cert: Certificate) -> bool:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        if cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        return ExtendedKeyUsageOID.CODE_SIGNING in eku
    except x509.ExtensionNotFound:
        return False


def verify_chain(chain: Sequence[Certificate], anchors: Sequence[Certificate]) -> PublicKey:
    """Check ``chain`` (signing certificate first) against ``anchors``; return its key.

    Raises VerificationError when any check fails.
    """
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if not chain:
        raise VerificationError("the bundle has no certificate")
    if len(chain) > MAX_CHAIN:
        raise VerificationError(f"certificate chain longer than {MAX_CHAIN}")
    if not anchors:
        raise VerificationError("no trust anchors given to verify the certificate chain")
    leaf = chain[0]
    when = leaf.not_valid_before_utc
    anchor_prints = {a.fingerprint(_sha256()) for a in anchors}
    trusted = False
    for i, cert in enumerate(chain):
        _valid_at(cert, when)
        if cert.fingerprint(_sha256()) in anchor_prints:
            trusted = True
            break
        anchor = next((a for a in anchors if _is_ca(a) and _issued_by(cert, a)), None)
        if anchor is not None:
            _valid_at(anchor, when)
            trusted = True
            break
        if i + 1 >= len(chain):
            break
        issuer = chain[i + 1]
        if not _is_ca(issuer):
            raise VerificationError(
                f"{issuer.subject.rfc4514_string()} issued a certificate but is not a CA"
            )
        if not _issued_by(cert, issuer):
            raise VerificationError(
                f"{cert.subject.rfc4514_string()} is not signed by the next certificate"
            )
    if not trusted:
        raise VerificationError("the certificate chain does not lead to a trusted certificate")
    if not _may_sign(leaf):
        raise VerificationError("the signing certificate is not allowed to sign")
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise VerificationError("the signing certificate's key is not ECDSA or Ed25519")
    return key


def _sha256() -> HashAlgorithm:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()
