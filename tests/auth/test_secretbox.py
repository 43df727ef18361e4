"""TOTP secrets are sealed at rest, bound to their owner, and useless without the key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from bastion.audit import MemoryAuditSink
from bastion.auth import totp
from bastion.auth.errors import AuthenticationFailed
from bastion.auth.secretbox import SecretBox
from bastion.auth.service import IdentityService
from bastion.auth.tables import users
from bastion.config import AuthSettings
from bastion.errors import ConfigError, VerificationError
from tests.auth.conftest import OPERATOR, PASSWORD, Clock


def test_seal_and_open_bind_the_owner() -> None:
    box = SecretBox.generate()
    sealed = box.seal("JBSWY3DPEHPK3PXP", owner="totp:alice")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert box.open(sealed, owner="totp:alice") == "JBSWY3DPEHPK3PXP"
    assert sealed != box.seal("JBSWY3DPEHPK3PXP", owner="totp:alice")  # fresh nonce
    for owner, value in [("totp:bob", sealed), ("totp:alice", sealed[:-2] + "AA"),
                         ("totp:alice", "v1:!!"), ("totp:alice", "plain")]:  # fmt: skip
        with pytest.raises(VerificationError):
            box.open(value, owner=owner)
    with pytest.raises(VerificationError):
        SecretBox.generate().open(sealed, owner="totp:alice")


def test_key_file_is_created_private_and_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "data" / "identity.key"
    sealed = SecretBox.from_file(path, create=True).seal("s", owner="o")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SecretBox.from_file(path).open(sealed, owner="o") == "s"
    path.write_text("not base64!")
    with pytest.raises(ConfigError, match="identity key"):
        SecretBox.from_file(path)
    with pytest.raises(ConfigError):
        SecretBox.from_file(tmp_path / "missing.key")


def test_the_database_holds_no_usable_totp_secret(
    service: IdentityService, engine: Engine, clock: Clock, settings: AuthSettings
) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    enrolment = service.enrol_mfa_for(OPERATOR, "alice")
    service.confirm_mfa_for(OPERATOR, "alice", totp.code_at(enrolment.secret, clock()))
    with engine.connect() as conn:
        stored = conn.execute(select(users.c.totp_secret)).scalar_one()
    assert stored.startswith("v1:")
    assert enrolment.secret not in stored
    # a server with another key cannot check codes: logins fail, they do not crash
    other = IdentityService(engine, settings=settings, audit=MemoryAuditSink(), clock=clock,
                            secret_box=SecretBox.generate())  # fmt: skip
    clock.advance(30)
    with pytest.raises(AuthenticationFailed):
        other.login("alice", PASSWORD, code=totp.code_at(enrolment.secret, clock()))
    service.login("alice", PASSWORD, code=totp.code_at(enrolment.secret, clock()))
