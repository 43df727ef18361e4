"""Logins, the second factor, sessions: on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import os
import threading
import uuid

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from bastion.audit import MemoryAuditSink, Outcome
from bastion.auth import totp
from bastion.auth.base import Role
from bastion.auth.errors import (
    AuthenticationFailed,
    MfaRequired,
    MfaStateError,
    PermissionDenied,
    Throttled,
    UserNotFound,
)
from bastion.auth.passwords import Argon2Hasher
from bastion.auth.service import IdentityService
from bastion.auth.sessions import SessionScope
from bastion.auth.tables import users
from bastion.auth.throttle import LoginThrottle
from bastion.auth.throttle_redis import RedisThrottleStore
from bastion.config import AuthSettings
from tests.auth.conftest import BOX, OPERATOR, PASSWORD, Clock, CountingHasher, make_service


def enrol(service: IdentityService, clock: Clock, name: str = "alice") -> tuple[str, list[str]]:
    """MFA on for ``name``, by the operator; returns the secret and the recovery codes."""
    enrolment = service.enrol_mfa_for(OPERATOR, name)
    done = service.confirm_mfa_for(OPERATOR, name, totp.code_at(enrolment.secret, clock()))
    clock.advance(30)  # the confirming code's step is used up
    return enrolment.secret, list(done.recovery_codes)


def test_login_opens_a_full_session(service: IdentityService, audit: MemoryAuditSink) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    issued = service.login("alice", PASSWORD, source="203.0.113.7")
    session = service.authenticate(issued.token)
    assert session.scope is SessionScope.FULL
    assert not session.mfa
    assert session.principal.id == "user:alice"
    assert session.expires_at - session.created_at == 3600
    event = audit.events[-1]
    assert (event.action, event.actor, event.outcome) == ("auth.login", "user:alice", "success")
    assert event.source == "203.0.113.7"


@pytest.mark.parametrize("case", ["unknown user", "wrong password", "disabled"])
def test_every_failure_looks_and_costs_the_same(
    service: IdentityService, hasher: CountingHasher, audit: MemoryAuditSink, case: str
) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    if case == "disabled":
        service.set_disabled(OPERATOR, "alice", disabled=True)
    name = "mallory" if case == "unknown user" else "alice"
    password = PASSWORD if case == "disabled" else "wrong-password-entirely"
    hasher.calls.clear()
    with pytest.raises(AuthenticationFailed) as info:
        service.login(name, password)
    # One Argon2id verification, nothing else hashed, the same message: the code path is
    # the same whether the user exists, so response time tells nothing.
    assert hasher.calls == {"verify": 1}
    assert str(info.value) == "invalid credentials"
    assert audit.events[-1].reason == case
    assert audit.events[-1].outcome is Outcome.FAILURE


def test_repeated_failures_back_off_then_lock_with_an_audited_unlock(
    service: IdentityService, clock: Clock, audit: MemoryAuditSink, hasher: CountingHasher
) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            service.login("alice", "wrong-password-entirely")
    with pytest.raises(AuthenticationFailed):
        service.login("alice", "wrong-password-entirely")  # 4th: backoff starts
    hasher.calls.clear()
    with pytest.raises(Throttled):
        service.login("alice", PASSWORD)  # even the right password waits
    assert hasher.calls["verify"] == 0  # throttled attempts cost no hashing
    for _ in range(6):
        clock.advance(301)
        with pytest.raises(AuthenticationFailed):
            service.login("alice", "wrong-password-entirely")
    assert "auth.lockout" in audit.actions()
    clock.advance(301)
    with pytest.raises(Throttled, match="locked"):
        service.login("alice", PASSWORD)
    assert service.get_user("alice").locked
    service.unlock(OPERATOR, "alice")
    unlock = audit.events[-1]
    assert (unlock.action, unlock.actor, unlock.details["locked"]) == (
        "auth.unlock",
        "operator:root",
        True,
    )
    service.login("alice", PASSWORD)


def test_unknown_names_are_throttled_like_real_ones(service: IdentityService) -> None:
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            service.login("nobody", "wrong-password-entirely")
    with pytest.raises(Throttled):
        service.login("nobody", "wrong-password-entirely")


def test_login_rehashes_when_parameters_change(
    engine: Engine, settings: AuthSettings, audit: MemoryAuditSink, clock: Clock
) -> None:
    old = make_service(
        engine, settings, audit, CountingHasher(Argon2Hasher.from_settings(settings)), clock
    )
    old.create_user(OPERATOR, "alice", PASSWORD)
    stronger = dataclasses.replace(settings, argon2_time_cost=2)
    new = make_service(
        engine, stronger, audit, CountingHasher(Argon2Hasher.from_settings(stronger)), clock
    )
    new.login("alice", PASSWORD)
    with engine.connect() as conn:
        encoded = conn.execute(select(users.c.password_hash)).scalar_one()
    assert ",t=2," in encoded
    new.login("alice", PASSWORD)  # the new hash verifies


def test_admin_without_mfa_can_only_enrol(service: IdentityService, clock: Clock) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    service.grant(OPERATOR, "alice", Role.ADMIN)
    issued = service.login("alice", PASSWORD)
    assert issued.session.scope is SessionScope.ENROL_MFA
    assert issued.session.expires_at - issued.session.created_at == 900
    with pytest.raises(PermissionDenied, match="only enrol"):
        service.authenticate(issued.token)
    enrolment = service.enrol_mfa(issued.token)
    with pytest.raises(AuthenticationFailed):
        service.confirm_mfa(
            issued.token,
            "000000" if totp.code_at(enrolment.secret, clock()) != "000000" else "111111",
        )
    done = service.confirm_mfa(issued.token, totp.code_at(enrolment.secret, clock()))
    assert len(done.recovery_codes) == 10
    assert done.session is not None
    full = service.authenticate(done.session.token)
    assert full.mfa
    assert full.scope is SessionScope.FULL
    with pytest.raises(AuthenticationFailed):
        service.authenticate(issued.token)  # the enrol-only session is gone
    with pytest.raises(MfaStateError):
        service.enrol_mfa(done.session.token)  # already on: reset first


@pytest.mark.parametrize("role", [Role.ADMIN, Role.AUDITOR])
def test_granting_a_role_that_needs_mfa_ends_sessions(service: IdentityService, role: Role) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    issued = service.login("alice", PASSWORD)
    service.grant(OPERATOR, "alice", role)
    with pytest.raises(AuthenticationFailed):
        service.authenticate(issued.token)
    assert service.login("alice", PASSWORD).session.scope is SessionScope.ENROL_MFA


def test_mfa_for_everyone_by_configuration(
    engine: Engine,
    settings: AuthSettings,
    audit: MemoryAuditSink,
    clock: Clock,
    hasher: CountingHasher,
) -> None:
    service = make_service(
        engine, dataclasses.replace(settings, mfa_required_for_all=True), audit, hasher, clock
    )
    service.create_user(OPERATOR, "bob", PASSWORD)
    assert service.login("bob", PASSWORD).session.scope is SessionScope.ENROL_MFA


def test_second_factor_is_required_and_each_code_works_once(
    service: IdentityService, clock: Clock, audit: MemoryAuditSink
) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    secret, _ = enrol(service, clock)
    with pytest.raises(MfaRequired):
        service.login("alice", PASSWORD)
    code = totp.code_at(secret, clock())
    session = service.login("alice", PASSWORD, code=code).session
    assert session.mfa
    assert session.scope is SessionScope.FULL
    with pytest.raises(AuthenticationFailed):
        service.login("alice", PASSWORD, code=code)  # replay
    assert audit.events[-1].reason == "wrong or replayed code"
    # a code of an earlier step, still inside the window, is refused too
    with pytest.raises(AuthenticationFailed):
        service.login("alice", PASSWORD, code=totp.code_at(secret, clock() - 30))
    clock.advance(30)
    service.login("alice", PASSWORD, code=totp.code_at(secret, clock()))


def test_concurrent_logins_with_one_code_succeed_once(
    service: IdentityService, clock: Clock
) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    secret, _ = enrol(service, clock)
    code = totp.code_at(secret, clock())
    results: list[str] = []
    barrier = threading.Barrier(4)

    def attempt() -> None:
        barrier.wait()
        try:
            service.login("alice", PASSWORD, code=code)
            results.append("ok")
        except AuthenticationFailed:
            results.append("refused")

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok", "refused", "refused", "refused"]


def test_recovery_codes_work_once_each(
    service: IdentityService, clock: Clock, audit: MemoryAuditSink
) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    _, codes = enrol(service, clock)
    assert service.login("alice", PASSWORD, code=codes[0].upper()).session.mfa
    assert audit.events[-1].details["recovery_codes_left"] == 9
    with pytest.raises(AuthenticationFailed):
        service.login("alice", PASSWORD, code=codes[0])
    service.login("alice", PASSWORD, code=codes[1])


def test_a_wrong_second_factor_counts_as_a_failure(service: IdentityService, clock: Clock) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    enrol(service, clock)
    for _ in range(4):
        with pytest.raises(AuthenticationFailed):
            service.login("alice", PASSWORD, code="not-a-code")
    with pytest.raises(Throttled):
        service.login("alice", PASSWORD, code="not-a-code")


def test_password_change_and_mfa_reset_end_every_session(
    service: IdentityService, clock: Clock
) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    first, second = (service.login("alice", PASSWORD) for _ in range(2))
    new_password = "quartz-meadow-lantern-42"  # noqa: S105
    fresh = service.change_password(first.token, PASSWORD, new_password)
    for old in (first, second):
        with pytest.raises(AuthenticationFailed):
            service.authenticate(old.token)
    assert service.authenticate(fresh.token).user == "alice"
    with pytest.raises(AuthenticationFailed):
        service.login("alice", PASSWORD)
    clock.advance(3600)  # let the failure above age out of the backoff
    secret, _ = enrol(service, clock)
    mfa = service.login("alice", new_password, code=totp.code_at(secret, clock()))
    service.reset_mfa(OPERATOR, "alice")
    for old in (fresh, mfa):
        with pytest.raises(AuthenticationFailed):
            service.authenticate(old.token)
    assert not service.login("alice", new_password).session.mfa  # no code needed any more


def test_wrong_old_password_and_weak_new_one_are_refused(service: IdentityService) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    token = service.login("alice", PASSWORD).token
    with pytest.raises(AuthenticationFailed):
        service.change_password(token, "wrong-password-entirely", "quartz-meadow-lantern-42")
    with pytest.raises(Exception, match="breached"):
        service.change_password(token, PASSWORD, "password123456")
    service.authenticate(token)  # nothing changed


def test_sessions_expire_list_and_revoke(service: IdentityService, clock: Clock) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    a, b, c = (service.login("alice", PASSWORD) for _ in range(3))
    listed = service.list_sessions(OPERATOR, "alice")
    assert {s.id for s in listed} == {a.session.id, b.session.id, c.session.id}
    alice = service.authenticate(a.token).principal
    assert service.revoke_sessions(alice, "alice", b.session.id) == 1  # one's own session
    with pytest.raises(AuthenticationFailed):
        service.authenticate(b.token)
    service.logout(c.token)
    assert [s.id for s in service.list_sessions(alice, "alice")] == [a.session.id]
    clock.advance(3601)
    with pytest.raises(AuthenticationFailed):
        service.authenticate(a.token)
    assert service.list_sessions(OPERATOR, "alice") == []


def test_disabling_ends_sessions(service: IdentityService) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    issued = service.login("alice", PASSWORD)
    service.set_disabled(OPERATOR, "alice", disabled=True)
    with pytest.raises(AuthenticationFailed):
        service.authenticate(issued.token)
    service.set_disabled(OPERATOR, "alice", disabled=False)
    with pytest.raises(AuthenticationFailed):
        service.authenticate(issued.token)  # re-enabling does not bring old sessions back
    service.login("alice", PASSWORD)


def test_forged_tokens_are_refused(service: IdentityService) -> None:
    for token in ["", "bss_", "bss_" + "A" * 43, "x" * 500, "bss_\x00\udcff"]:
        with pytest.raises(AuthenticationFailed):
            service.authenticate(token)


def test_no_secret_reaches_the_audit_log(
    service: IdentityService, clock: Clock, audit: MemoryAuditSink
) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    enrolment = service.enrol_mfa_for(OPERATOR, "alice")
    code = totp.code_at(enrolment.secret, clock())
    codes = service.confirm_mfa_for(OPERATOR, "alice", code).recovery_codes
    clock.advance(30)
    issued = service.login("alice", PASSWORD, code=totp.code_at(enrolment.secret, clock()))
    with pytest.raises(AuthenticationFailed):
        service.login("alice", "wrong-password-entirely")
    secrets_ = [PASSWORD, "wrong-password-entirely", enrolment.secret, code, issued.token, *codes]
    text = repr(audit.events)
    assert len(audit.events) == 5
    for secret in secrets_:
        assert secret not in text


@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(max_size=80), password=st.text(max_size=80))
def test_any_name_and_password_fail_cleanly(
    service: IdentityService, hasher: CountingHasher, name: str, password: str
) -> None:
    # NUL bytes, surrogates and huge names never reach the database as a crash.
    before = hasher.calls["verify"]
    with pytest.raises((AuthenticationFailed, Throttled)) as info:
        service.login(name, password)  # no source: only per-name throttling applies
    if isinstance(info.value, AuthenticationFailed):
        assert str(info.value) == "invalid credentials"
        assert hasher.calls["verify"] == before + 1


def test_admin_calls_with_impossible_names_are_clean_errors(service: IdentityService) -> None:
    for name in ["\x00", "a\x00b", "\udcff", "x" * 1000]:
        with pytest.raises(UserNotFound):
            service.reset_mfa(OPERATOR, name)
    service.create_user(OPERATOR, "alice", PASSWORD)
    with pytest.raises(ValueError, match="session id"):
        service.revoke_sessions(OPERATOR, "alice", "\x00")
    with pytest.raises(ValueError, match="printable"):
        service.grant(OPERATOR, "alice", Role.READER, "team\x00")


def test_servers_sharing_redis_throttle_together(
    engine: Engine, settings: AuthSettings, audit: MemoryAuditSink, clock: Clock
) -> None:
    import redis

    client = redis.Redis.from_url(os.environ.get("BASTION_TEST_REDIS", "redis://127.0.0.1:6379/0"))
    prefix = f"bastion-test:{uuid.uuid4().hex}:"
    try:
        servers = [
            IdentityService(
                engine, settings=settings, audit=audit, clock=clock, secret_box=BOX,
                throttle=LoginThrottle.from_settings(
                    RedisThrottleStore(client, prefix=prefix), settings, clock=clock
                ),
            )
            for _ in range(2)
        ]  # fmt: skip
        servers[0].create_user(OPERATOR, "alice", PASSWORD)
        for i in range(4):  # failures spread over two servers count together
            with pytest.raises(AuthenticationFailed):
                servers[i % 2].login("alice", "wrong-password-entirely")
        for server in servers:
            with pytest.raises(Throttled):
                server.login("alice", PASSWORD)
        servers[1].unlock(OPERATOR, "alice")
        servers[0].login("alice", PASSWORD)
    finally:
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()
