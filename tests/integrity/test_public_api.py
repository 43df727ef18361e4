"""Pin the public API of bastion.integrity and bastion.crypto."""

from __future__ import annotations

import bastion.crypto
import bastion.integrity


def test_integrity_exports() -> None:
    assert sorted(bastion.integrity.__all__) == [
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
    for name in bastion.integrity.__all__:
        assert getattr(bastion.integrity, name) is not None


def test_crypto_exports() -> None:
    assert sorted(bastion.crypto.__all__) == [
        "ALGORITHMS",
        "Algorithm",
        "FileChangedError",
        "KEY_TYPES",
        "KeyFileError",
        "KeyType",
        "Range",
        "digest_bytes",
        "digest_range",
        "digest_ranges",
        "shard_bounds",
    ]
    for name in bastion.crypto.__all__:
        assert getattr(bastion.crypto, name) is not None


def test_errors_are_bastion_errors() -> None:
    from bastion.errors import VerificationError

    for cls in (
        bastion.integrity.BadBundleError,
        bastion.integrity.BadStatementError,
        bastion.integrity.ModelMismatchError,
        bastion.integrity.ModelPathError,
        bastion.crypto.FileChangedError,
    ):
        assert issubclass(cls, VerificationError)
