"""mTLS: a client certificate from the configured CA is a principal; no certificate, no
connection."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bastion.audit import MemoryAuditSink
from bastion.auth.base import Role
from bastion.auth.rbac import grant
from bastion.client import Client, ClientError
from bastion.server.bootstrap import Paths, engine_for, open_state, prepare
from tests.server.conftest import _serve


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    tmp: Path, cn: str, issuer_key, issuer: x509.Name, *, ca: bool
) -> tuple[Path, Path, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .sign(issuer_key or key, hashes.SHA256())
    )
    cert_path, key_path = tmp / f"{cn}.pem", tmp / f"{cn}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path, key


def test_client_certificates_map_to_principals(tmp_path: Path) -> None:
    ca_cert, _, ca_key = _issue(tmp_path, "test-ca", None, _name("test-ca"), ca=True)
    bot_cert, bot_key, _ = _issue(tmp_path, "ci-bot", ca_key, _name("test-ca"), ca=False)
    paths = Paths(tmp_path / "data")
    audit = MemoryAuditSink()
    engine = engine_for(paths, None)
    prepare(paths, engine, audit)
    state = open_state(paths, engine, audit)
    with engine.begin() as conn:
        grant(conn, "cert:ci-bot", Role.READER, "team")
    try:
        for url in _serve(state, paths, client_ca=ca_cert):
            with Client(url, None, ca_cert=paths.cert, client_cert=(bot_cert, bot_key)) as bot:
                me = bot.whoami()
                assert me["principal"] == "cert:ci-bot"
                assert me["namespace_roles"] == {"team": "reader"}
                with pytest.raises(ClientError) as denied:
                    bot.create_namespace("x")
                assert denied.value.status == 403
            plain = ssl.create_default_context(cafile=str(paths.cert))
            with (
                httpx.Client(base_url=url, verify=plain) as anonymous,
                pytest.raises(httpx.HTTPError),
            ):
                anonymous.get("/healthz")
    finally:
        engine.dispose()
