"""Keys, certificate chains and small models, made fresh for each test session."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bastion.crypto import keys


@dataclass
class KeyFiles:
    private: Path
    public: Path
    key: ec.EllipticCurvePrivateKey


@pytest.fixture(scope="session")
def ec_key(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    folder = tmp_path_factory.mktemp("keys")
    key = keys.generate("ecdsa-p256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    (folder / "key.pem").write_bytes(keys.private_pem(key, passphrase=None))
    (folder / "key.pub").write_bytes(keys.public_pem(key))
    return KeyFiles(folder / "key.pem", folder / "key.pub", key)


@pytest.fixture(scope="session")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> KeyFiles:
    folder = tmp_path_factory.mktemp("other")
    key = keys.generate("ecdsa-p256")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    (folder / "key.pem").write_bytes(keys.private_pem(key, passphrase=None))
    (folder / "key.pub").write_bytes(keys.public_pem(key))
    return KeyFiles(folder / "key.pem", folder / "key.pub", key)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(
    subject_key: ec.EllipticCurvePrivateKey,
    cn: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer_cn: str,
    *,
    ca: bool,
    may_sign: bool = True,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(issuer_cn))
        .public_key(subject_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=may_sign or not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            )
            if may_sign or ca
            else x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class Pki:
    root: Path
    intermediate: Path
    leaf: Path
    leaf_key: Path
    other_root: Path


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def make_pki(folder: Path) -> Pki:
    """A root CA, an intermediate CA, a signing certificate and its key; another root."""
    folder.mkdir(parents=True, exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    mid_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    other_key = ec.generate_private_key(ec.SECP256R1())
    root = make_cert(root_key, "Test Root", root_key, "Test Root", ca=True)
    mid = make_cert(mid_key, "Test Intermediate", root_key, "Test Root", ca=True)
    leaf = make_cert(leaf_key, "Model Signer", mid_key, "Test Intermediate", ca=False)
    other = make_cert(other_key, "Other Root", other_key, "Other Root", ca=True)
    paths = Pki(
        folder / "root.pem",
        folder / "intermediate.pem",
        folder / "leaf.pem",
        folder / "leaf.key",
        folder / "other-root.pem",
    )
    paths.root.write_bytes(_pem(root))
    paths.intermediate.write_bytes(_pem(mid))
    paths.leaf.write_bytes(_pem(leaf))
    paths.other_root.write_bytes(_pem(other))
    paths.leaf_key.write_bytes(keys.private_pem(leaf_key, passphrase=None))
    return paths


def make_model(folder: Path) -> Path:
    """A small model folder: weights, configs, a nested file, git files, an empty file."""
    folder.mkdir(parents=True, exist_ok=True)
    # Fixed bytes: about one random blob in 1,500 starts like a pickle and is refused.
    (folder / "weights.bin").write_bytes(random.Random(7).randbytes(300_000))
    (folder / "config.json").write_text('{"layers": 2}\n')
    (folder / "tokenizer").mkdir()
    (folder / "tokenizer" / "vocab.txt").write_text("a\nb\n")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "a").mkdir()
    (folder / "a" / "x.txt").write_text("x\n")
    (folder / "a-b.txt").write_text("before a/x.txt as a string, after it by components\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (folder / ".gitattributes").write_text("*.bin filter=lfs\n")
    return folder


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return make_model(tmp_path / "model")
