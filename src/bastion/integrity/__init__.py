"""Integrity (layer 2): manifests, signatures and verification of models, datasets, any folder.

Bundles are OpenSSF model signing's (Sigstore bundle v0.3, DSSE, in-toto Statement v1,
``model_signing`` predicate v1.0): ``model_signing verify key`` accepts what
:func:`sign_model` writes, and :func:`verify_model` accepts what ``model_signing sign
key`` and ``sign certificate`` write.

>>> from bastion.integrity import KeySigner, KeyVerifier, sign_model, verify_model
>>> verify_model("my-model", KeyVerifier.from_file(Path("key.pub")))  # doctest: +SKIP
"""

from typing import TYPE_CHECKING, Any

from bastion.integrity.base import Signer, Verifier
from bastion.integrity.bundle import BadBundleError, Bundle
from bastion.integrity.hashing import ModelPathError, hash_model, serialization_for
from bastion.integrity.keys import CertificateSigner, CertificateVerifier, KeySigner, KeyVerifier
from bastion.integrity.manifest import (
    Difference,
    Manifest,
    ModelMismatchError,
    Resource,
    Serialization,
)
from bastion.integrity.signing import (
    default_signature_path,
    sign_model,
    verified_manifest,
    verify_model,
)
from bastion.integrity.statement import BadStatementError

if TYPE_CHECKING:
    from bastion.integrity.loading import LoadError, load


def __getattr__(name: str) -> Any:
    # Safe loading pulls in the scanner; sign/verify should not pay for it.
    if name in ("load", "LoadError"):
        from bastion.integrity import loading

        return getattr(loading, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BadBundleError",
    "BadStatementError",
    "Bundle",
    "CertificateSigner",
    "CertificateVerifier",
    "Difference",
    "KeySigner",
    "KeyVerifier",
    "LoadError",
    "Manifest",
    "ModelMismatchError",
    "ModelPathError",
    "Resource",
    "Serialization",
    "Signer",
    "Verifier",
    "default_signature_path",
    "hash_model",
    "load",
    "serialization_for",
    "sign_model",
    "verified_manifest",
    "verify_model",
]
