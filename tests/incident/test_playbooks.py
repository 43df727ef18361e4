"""The incident playbooks against a live server over TLS, on SQLite and PostgreSQL: each
one changes what it says, nothing under --dry-run, and lands in the tamper-evident log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bastion.audit.checkpoint import NoteVerifier
from bastion.audit.query import Filter
from bastion.audit.verify import verify_log
from bastion.auth._core import Operator
from bastion.auth.errors import AuthError
from bastion.auth.secretbox import SecretBox
from bastion.auth.service import IdentityService
from bastion.auth.tokens import issue_token
from bastion.cli.main import cli
from bastion.client import ClientError
from bastion.config import AuthSettings
from bastion.crypto import keys as k
from bastion.crypto.kek import LocalKeyFileProvider
from bastion.errors import VerificationError
from bastion.guard.proxy.keys import KeyStore, generate_key
from bastion.incident import (
    IncidentError,
    Workspace,
    contain_principal,
    export_evidence,
    quarantine_versions,
    rotate_trust,
    verify_evidence,
    workspace,
)
from bastion.registry import tables as t
from tests.backup.conftest import Server, model, running

PASSWORD = "an incident drill password"  # noqa: S105 (a test account)


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    with running(tmp_path / "data", database_url) as s:
        assert s.admin_token is not None
        with s.client(s.admin_token) as admin:
            admin.create_namespace("lab", {"allow_unscanned": True})
            admin.create_namespace("prod", {"allow_unscanned": True})
            for i in range(2):
                admin.push(model(tmp_path / f"m{i}", {"i": i}), f"lab/m:{i}")
            admin.push(model(tmp_path / "p", {"p": 1}), "prod/p:1")
        yield s


@pytest.fixture
def ws(server: Server) -> Iterator[Workspace]:
    with workspace(
        server.paths.data_dir, str(server.engine.url.render_as_string(False)), actor="operator:test"
    ) as w:
        yield w


def _identity(server: Server) -> IdentityService:
    box = SecretBox.from_file(server.paths.data_dir / "identity.key", create=True)
    return IdentityService(server.engine, settings=AuthSettings(), audit=server.log, secret_box=box)


def _log_ok(server: Server, ws: Workspace) -> list[str]:
    ws.log.checkpoint()
    verify_log(server.engine, NoteVerifier.from_vkey(ws.log.signer.vkey()))
    with server.engine.connect() as conn:
        return [str(a) for a in conn.execute(sa.text("SELECT action FROM audit_entries")).scalars()]


def test_contain_a_user(server: Server, ws: Workspace, tmp_path: Path) -> None:
    identity = _identity(server)
    identity.create_user(Operator("t"), "mallory", PASSWORD)
    session = identity.login("mallory", PASSWORD)
    with server.engine.begin() as conn:
        made = issue_token(
            conn, name="mallory-ci", created_by="user:mallory", ttl=timedelta(hours=1)
        )
    keys = tmp_path / "proxy-keys.json"
    mine, theirs = generate_key(), generate_key()
    keys.write_text(
        json.dumps(
            {"keys": [{"id": "mallory", "sha256": mine[1]}, {"id": "bob", "sha256": theirs[1]}]}
        )
    )

    plan = contain_principal(ws, "user:mallory", reason="drill", proxy_keys=keys, dry_run=True)
    assert [c.action for c in plan.changes] == [
        "user.disable",
        "session.revoke",
        "token.revoke",
        "proxy_key.block",
    ]
    assert identity.authenticate(session.token)  # nothing changed yet
    assert KeyStore.load(keys).verify(mine[0]) is not None

    done = contain_principal(ws, "mallory", reason="drill", proxy_keys=keys)
    assert done.changes == plan.changes
    assert not done.dry_run
    with pytest.raises(AuthError):
        identity.authenticate(session.token)
    with pytest.raises(AuthError):
        identity.login("mallory", PASSWORD)
    with server.client(made.secret) as c, pytest.raises(ClientError) as refused:
        c.whoami()
    assert refused.value.status == 401
    store = KeyStore.load(keys)
    assert store.verify(mine[0]) is None
    assert store.verify(theirs[0]) is not None
    actions = _log_ok(server, ws)
    assert actions.count("incident.contain") == 2  # the dry run is on record too
    for action in ("user.disable", "session.revoke", "token.revoke", "proxy_key.block"):
        assert action in actions


def test_contain_a_token(server: Server, ws: Workspace) -> None:
    with server.engine.begin() as conn:
        made = issue_token(conn, name="leaked", created_by="test", ttl=timedelta(hours=1))
    result = contain_principal(ws, "token:leaked", reason="found on a paste site")
    assert [c.target for c in result.changes] == ["token:leaked"]
    with server.client(made.secret) as c, pytest.raises(ClientError):
        c.whoami()


def test_quarantine_by_reference_namespace_and_uploader(
    server: Server, ws: Workspace, tmp_path: Path
) -> None:
    plan = quarantine_versions(ws, reason="poisoned", namespace="lab", dry_run=True)
    assert [c.target for c in plan.changes] == ["lab/m:0", "lab/m:1"]
    assert server.admin_token is not None
    with server.client(server.admin_token) as admin:
        admin.pull("lab/m:0", tmp_path / "before")  # a dry run changes nothing
        quarantine_versions(ws, reason="poisoned", versions=["lab/m:0"])
        with pytest.raises(ClientError) as refused:
            admin.pull("lab/m:0", tmp_path / "after")
        assert refused.value.status == 409
        assert "incident: poisoned" in admin.info("lab/m:0")["state_reason"]
        now = datetime.now(UTC)
        window = quarantine_versions(
            ws,
            reason="bad uploader",
            uploaded_by="token:admin",
            since=now - timedelta(hours=1),
            until=now + timedelta(minutes=1),
        )
        assert [c.target for c in window.changes] == ["lab/m:1", "prod/p:1"]  # m:0 was done
        empty = quarantine_versions(
            ws, reason="x", uploaded_by="token:admin", until=now - timedelta(hours=1)
        )
        assert empty.changes == ()
    assert _log_ok(server, ws).count("model.quarantine") == 3


def test_rotate_kek_and_distrust_a_signing_key(
    server: Server, ws: Workspace, tmp_path: Path
) -> None:
    leaked, kept = k.generate("ecdsa-p256"), k.generate("ecdsa-p256")
    assert server.admin_token is not None
    with server.client(server.admin_token) as admin:
        admin.set_policy(
            "prod",
            {
                "require_signature": True,
                "allow_unscanned": True,
                "trusted_keys": [k.public_pem(leaked).decode(), k.public_pem(kept).decode()],
            },
        )
        provider = LocalKeyFileProvider.open(server.paths.key_file)
        before = provider.current().version
        plan = rotate_trust(
            ws,
            reason="kek may have leaked",
            keys=provider,
            distrust=[k.public_pem(leaked)],
            dry_run=True,
        )
        assert [c.action for c in plan.changes] == ["key.rotate", "namespace.policy"]
        assert LocalKeyFileProvider.open(server.paths.key_file).current().version == before
        rotate_trust(
            ws, reason="kek may have leaked", keys=provider, distrust=[k.public_pem(leaked)]
        )
        assert LocalKeyFileProvider.open(server.paths.key_file).current().version == before + 1
        with server.engine.connect() as conn:
            versions = set(conn.execute(sa.select(t.blobs.c.key_version)).scalars())
        assert versions == {before + 1}
        admin.pull("lab/m:0", tmp_path / "after-rotation")  # blobs still open under the new KEK
    with server.engine.connect() as conn:
        stored = conn.execute(
            sa.select(t.namespaces.c.policy).where(t.namespaces.c.name == "prod")
        ).scalar_one()
    assert json.loads(stored)["trusted_keys"] == [k.public_pem(kept).decode()]
    with pytest.raises(IncidentError, match="would trust no key"):
        rotate_trust(ws, reason="x", distrust=[k.public_pem(kept)])
    replacement = k.generate("ed25519")
    rotate_trust(ws, reason="x", distrust=[k.public_pem(kept)], trust=[k.public_pem(replacement)])
    with server.engine.connect() as conn:
        stored = conn.execute(
            sa.select(t.namespaces.c.policy).where(t.namespaces.c.name == "prod")
        ).scalar_one()
    assert json.loads(stored)["trusted_keys"] == [k.public_pem(replacement).decode()]


def test_evidence_bundle_verifies_offline_and_catches_edits(
    server: Server, ws: Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "evidence"
    result = export_evidence(
        ws, out, reason="case 7", where=Filter(action="model.*"), versions=["lab/m:1"]
    )
    assert result.events >= 3  # three pushes at least
    vkey = ws.log.signer.vkey()
    report = verify_evidence(out, vkey=vkey)
    assert report.events == result.events
    assert (out / "versions/lab/m/1/scan_report.json").is_file()
    runner = CliRunner()
    ok = runner.invoke(cli, ["incident", "verify-evidence", str(out), "--vkey", vkey])
    assert ok.exit_code == 0, ok.output
    stranger = NoteVerifier("bastion.local/audit", k.generate("ed25519").public_key())
    with pytest.raises(VerificationError):
        verify_evidence(out, vkey=stranger.vkey())
    report_path = out / "versions/lab/m/1/scan_report.json"
    report_path.write_text(report_path.read_text() + " ")
    with pytest.raises(VerificationError, match="scan_report"):
        verify_evidence(out, vkey=vkey)
    bad = runner.invoke(cli, ["incident", "verify-evidence", str(out), "--vkey", vkey])
    assert bad.exit_code == 1


def test_cli_dry_run_json(server: Server, tmp_path: Path) -> None:
    url = server.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        cli,
        [
            "incident",
            "quarantine",
            "--namespace",
            "prod",
            "--reason",
            "check",
            "--dry-run",
            "--json",
            "--data-dir",
            str(server.paths.data_dir),
            "--database-url",
            url,
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["dry_run"] is True
    assert [c["target"] for c in doc["changes"]] == ["prod/p:1"]
    assert server.admin_token is not None
    with server.client(server.admin_token) as admin:
        assert admin.info("prod/p:1")["state"] == "committed"


def test_cli_contain_rotate_and_evidence(server: Server, tmp_path: Path) -> None:
    url = server.engine.url.render_as_string(hide_password=False)
    where = ["--data-dir", str(server.paths.data_dir), "--database-url", url]
    with server.engine.begin() as conn:
        made = issue_token(conn, name="ci", created_by="test", ttl=timedelta(hours=1))
    runner = CliRunner()
    plan = runner.invoke(
        cli, ["incident", "contain", "token:ci", "--reason", "r", "--dry-run", *where]
    )
    assert plan.exit_code == 0, plan.output
    assert "would change 1" in plan.output
    with server.client(made.secret) as c:
        assert c.whoami()  # the dry run left it alone
    done = runner.invoke(cli, ["incident", "contain", "token:ci", "--reason", "r", *where])
    assert done.exit_code == 0, done.output
    assert "token.revoke" in done.output
    old = tmp_path / "old.pub"
    old.write_bytes(k.public_pem(k.generate("ed25519")))
    rotated = runner.invoke(
        cli,
        [
            "incident",
            "rotate-keys",
            "--no-kek",
            "--distrust-key",
            str(old),
            "--reason",
            "r",
            "--json",
            *where,
        ],
    )
    assert rotated.exit_code == 0, rotated.output
    assert json.loads(rotated.output)["changes"] == []  # no namespace trusted it
    out = tmp_path / "bundle"
    exported = runner.invoke(
        cli, ["incident", "evidence", str(out), "--action", "incident.*", "--reason", "r", *where]
    )
    assert exported.exit_code == 0, exported.output
    vkey = exported.output.split("verifier key: ")[1].strip()
    checked = runner.invoke(cli, ["incident", "verify-evidence", str(out), "--vkey", vkey])
    assert checked.exit_code == 0, checked.output
    missing = runner.invoke(cli, ["incident", "contain", "user:nobody", "--reason", "r", *where])
    assert missing.exit_code == 2
    assert "no user" in missing.output
