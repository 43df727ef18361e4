"""Managing users and roles: least privilege, and every change audited."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from bastion.audit import MemoryAuditSink, Outcome
from bastion.auth import totp
from bastion.auth.base import Principal, PrincipalKind, Role
from bastion.auth.errors import PasswordRejected, PermissionDenied, UserExists, UserNotFound
from bastion.auth.service import IdentityService
from bastion.auth.tables import recovery_codes, sessions
from bastion.auth.user_grants import GLOBAL, Grant, can_grant, user_grants
from tests.auth.conftest import OPERATOR, PASSWORD, Clock


def user(name: str) -> Principal:
    return Principal(PrincipalKind.USER, name, mfa=True)


def test_create_enforces_the_policy_and_unique_names(service: IdentityService) -> None:
    with pytest.raises(PasswordRejected):
        service.create_user(OPERATOR, "alice", "password123456")
    with pytest.raises(PasswordRejected, match="user name"):
        service.create_user(OPERATOR, "alice", "alice-is-my-password-ok")
    for bad in ["", "Alice", "a b", "-x", "a" * 65, "user:root"]:
        with pytest.raises(UserNotFound, match="invalid user name"):
            service.create_user(OPERATOR, bad, PASSWORD)
    created = service.create_user(OPERATOR, "alice", PASSWORD)
    assert (created.name, created.disabled, created.mfa_enabled, created.grants) == (
        "alice", False, False, ()
    )  # fmt: skip
    with pytest.raises(UserExists):
        service.create_user(OPERATOR, "alice", PASSWORD)


def test_only_global_admins_manage_users(service: IdentityService, audit: MemoryAuditSink) -> None:
    service.create_user(OPERATOR, "root", PASSWORD)
    service.create_user(OPERATOR, "maint", PASSWORD)
    service.grant(OPERATOR, "root", Role.ADMIN)
    service.grant(OPERATOR, "maint", Role.MAINTAINER, "team-a")
    service.create_user(user("root"), "carol", PASSWORD)
    for call in (
        lambda: service.create_user(user("maint"), "dave", PASSWORD),
        lambda: service.delete_user(user("maint"), "carol"),
        lambda: service.set_disabled(user("maint"), "carol", disabled=True),
        lambda: service.reset_mfa(user("maint"), "carol"),
        lambda: service.unlock(user("maint"), "carol"),
        lambda: service.list_users(user("maint")),
        lambda: service.list_sessions(user("maint"), "carol"),
        lambda: service.set_password(user("maint"), "carol", "quartz-meadow-lantern-42"),
        lambda: service.enrol_mfa_for(user("maint"), "carol"),
    ):
        with pytest.raises(PermissionDenied):
            call()
        denied = audit.events[-1]
        assert denied.outcome is Outcome.DENIED
        assert denied.actor == "user:maint"
    assert [u.name for u in service.list_users(user("root"))] == ["carol", "maint", "root"]


@pytest.mark.parametrize(
    ("actor", "grant", "allowed"),
    [
        # a maintainer grants up to maintainer, in their own namespace only
        ([("team-a", Role.MAINTAINER)], ("team-a", Role.READER), True),
        ([("team-a", Role.MAINTAINER)], ("team-a", Role.PUBLISHER), True),
        ([("team-a", Role.MAINTAINER)], ("team-a", Role.MAINTAINER), True),
        ([("team-a", Role.MAINTAINER)], ("team-a", Role.ADMIN), False),
        ([("team-a", Role.MAINTAINER)], ("team-b", Role.READER), False),
        ([("team-a", Role.MAINTAINER)], (GLOBAL, Role.AUDITOR), False),
        ([("team-a", Role.MAINTAINER)], (GLOBAL, Role.ADMIN), False),
        # a namespace admin grants up to admin there
        ([("team-a", Role.ADMIN)], ("team-a", Role.ADMIN), True),
        ([("team-a", Role.ADMIN)], (GLOBAL, Role.ADMIN), False),
        # publishers, readers and auditors grant nothing
        ([("team-a", Role.PUBLISHER)], ("team-a", Role.READER), False),
        ([("team-a", Role.READER)], ("team-a", Role.READER), False),
        ([(GLOBAL, Role.AUDITOR)], ("team-a", Role.READER), False),
        ([], ("team-a", Role.READER), False),
        # a global admin grants anything
        ([(GLOBAL, Role.ADMIN)], (GLOBAL, Role.ADMIN), True),
        ([(GLOBAL, Role.ADMIN)], ("team-z", Role.ADMIN), True),
        ([(GLOBAL, Role.ADMIN)], (GLOBAL, Role.AUDITOR), True),
    ],
)
def test_least_privilege(
    actor: list[tuple[str, Role]], grant: tuple[str, Role], allowed: bool
) -> None:
    held = [Grant("user:a", ns, role) for ns, role in actor]
    assert can_grant(held, Grant("user:b", *grant)) is allowed


def test_grant_and_revoke_through_the_service(
    service: IdentityService, audit: MemoryAuditSink, engine: Engine
) -> None:
    for name in ["maint", "bob"]:
        service.create_user(OPERATOR, name, PASSWORD)
    service.grant(OPERATOR, "maint", Role.MAINTAINER, "team-a")
    assert service.grant(user("maint"), "bob", Role.PUBLISHER, "team-a") is True
    assert service.grant(user("maint"), "bob", Role.PUBLISHER, "team-a") is False  # held
    event = audit.events[-1]  # the repeat is a no-op and not an event
    assert (event.action, event.actor, event.resource, event.details["role"]) == (
        "user.grant", "user:maint", "user:bob@team-a", "publisher"
    )  # fmt: skip
    with pytest.raises(PermissionDenied):
        service.grant(user("maint"), "bob", Role.ADMIN, "team-a")
    with pytest.raises(PermissionDenied):
        service.grant(user("maint"), "bob", Role.READER, "team-b")
    with pytest.raises(PermissionDenied):
        service.grant(user("bob"), "maint", Role.READER, "team-a")  # a publisher grants nothing
    assert service.get_user("bob").grants == (Grant("user:bob", "team-a", Role.PUBLISHER),)
    assert service.revoke(user("maint"), "bob", Role.PUBLISHER, "team-a") is True
    assert service.revoke(user("maint"), "bob", Role.PUBLISHER, "team-a") is False
    assert service.get_user("bob").grants == ()
    assert audit.actions().count("user.revoke") == 1
    with pytest.raises(ValueError, match="namespace role"):
        service.grant(OPERATOR, "bob", Role.READER)
    with pytest.raises(ValueError, match="global role"):
        service.grant(OPERATOR, "bob", Role.AUDITOR, "team-a")


def test_delete_removes_everything_the_user_had(
    service: IdentityService, engine: Engine, clock: Clock
) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    service.grant(OPERATOR, "alice", Role.READER, "team-a")
    enrolment = service.enrol_mfa_for(OPERATOR, "alice")
    service.confirm_mfa_for(OPERATOR, "alice", totp.code_at(enrolment.secret, clock()))
    service.delete_user(OPERATOR, "alice")
    with engine.connect() as conn:
        for table in (sessions, recovery_codes, user_grants):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
    with pytest.raises(UserNotFound):
        service.get_user("alice")
    service.create_user(OPERATOR, "alice", PASSWORD)  # the name is free again
    assert service.get_user("alice").grants == ()


def test_every_change_is_audited(service: IdentityService, audit: MemoryAuditSink) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    service.set_password(OPERATOR, "alice", "quartz-meadow-lantern-42")
    service.set_disabled(OPERATOR, "alice", disabled=True)
    service.set_disabled(OPERATOR, "alice", disabled=False)
    service.grant(OPERATOR, "alice", Role.READER, "ns")
    service.revoke(OPERATOR, "alice", Role.READER, "ns")
    service.enrol_mfa_for(OPERATOR, "alice")
    service.reset_mfa(OPERATOR, "alice")
    service.unlock(OPERATOR, "alice")
    service.revoke_sessions(OPERATOR, "alice")
    service.delete_user(OPERATOR, "alice")
    assert audit.actions() == [
        "user.create", "user.password.set", "user.disable", "user.enable", "user.grant",
        "user.revoke", "user.mfa.enrol", "user.mfa.reset", "auth.unlock", "session.revoke",
        "user.delete",
    ]  # fmt: skip
    assert {e.actor for e in audit.events} == {"operator:root"}
    assert all(e.resource and e.resource.startswith("user:alice") for e in audit.events)
