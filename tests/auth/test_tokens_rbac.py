"""API tokens and role grants on both databases; the authorization function on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.auth.base import Principal, PrincipalKind, Role
from bastion.auth.rbac import (
    GLOBAL,
    Grants,
    Permission,
    PermissionDenied,
    authorize,
    grant,
    load_grants,
    revoke,
)
from bastion.auth.tokens import (
    AuthenticationError,
    api_tokens,
    authenticate,
    issue_token,
    list_tokens,
    revoke_token,
)
from bastion.db import make_engine, migrate


@pytest.fixture
def engine(database_url: str):
    engine = make_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


def test_token_lifecycle(engine) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        issued = issue_token(
            conn,
            name="ci",
            created_by="token:admin",
            ttl=timedelta(hours=1),
            scope=Role.PUBLISHER,
            namespaces=["b", "a"],
        )
    assert issued.secret.startswith("bst_")
    with engine.begin() as conn:
        stored = conn.execute(api_tokens.select()).one()
        assert issued.secret.encode() not in bytes(stored.secret_sha256)
        info = authenticate(conn, issued.secret)
        assert info.scope is Role.PUBLISHER
        assert info.namespaces == ("a", "b")
        assert info.principal.id == "token:ci"
        with pytest.raises(AuthenticationError):
            authenticate(conn, issued.secret, now=now + timedelta(hours=2))
        with pytest.raises(AuthenticationError):
            authenticate(conn, issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B"))
        assert revoke_token(conn, info.id)
        assert not revoke_token(conn, info.id)
        with pytest.raises(AuthenticationError):
            authenticate(conn, issued.secret)
        assert [t.id for t in list_tokens(conn)] == [info.id]


@given(st.text(max_size=120))
def test_any_string_is_refused_not_crashed(text: str) -> None:
    class NoConn:
        def execute(self, *_a, **_k):
            raise AssertionError("malformed tokens never reach the database")

    if text.startswith("bst_") and len(text) == 60:
        return
    with pytest.raises(AuthenticationError):
        authenticate(NoConn(), text)  # type: ignore[arg-type]


def test_grants_load_and_revoke(engine) -> None:
    alice = Principal(PrincipalKind.USER, "alice")
    with engine.begin() as conn:
        grant(conn, alice.id, Role.READER, "team")
        grant(conn, alice.id, Role.PUBLISHER, "team")
        grant(conn, alice.id, Role.PUBLISHER, "team")  # idempotent
        grant(conn, alice.id, Role.AUDITOR)
        with pytest.raises(ValueError, match="cannot be granted"):
            grant(conn, alice.id, Role.AUDITOR, "team")
        with pytest.raises(ValueError, match="cannot be granted"):
            grant(conn, alice.id, Role.READER, GLOBAL)
        grants = load_grants(conn, alice)
        assert grants.namespace_roles == {"team": Role.PUBLISHER}
        assert grants.global_roles == {Role.AUDITOR}
        assert revoke(conn, alice.id, Role.PUBLISHER, "team")
        assert load_grants(conn, alice).namespace_roles == {"team": Role.READER}


P = Principal(PrincipalKind.TOKEN, "t")


def test_default_deny() -> None:
    nobody = Grants(P)
    authorize(nobody, Permission.AUTHENTICATED)
    for permission in Permission:
        if permission is Permission.AUTHENTICATED:
            continue
        with pytest.raises(PermissionDenied):
            authorize(nobody, permission, "team" if permission.namespaced else None)


def test_scope_and_limits_only_narrow() -> None:
    admin = Grants(P, frozenset({Role.ADMIN}), scope=Role.READER)
    authorize(admin, Permission.MODEL_PULL, "team")
    with pytest.raises(PermissionDenied):
        authorize(admin, Permission.MODEL_PUSH, "team")
    with pytest.raises(PermissionDenied):
        authorize(admin, Permission.TOKEN_MANAGE)
    limited = Grants(P, frozenset({Role.ADMIN}), namespace_limits=("a",))
    authorize(limited, Permission.RELEASE, "a")
    with pytest.raises(PermissionDenied):
        authorize(limited, Permission.MODEL_PULL, "b")
    reader = Grants(P, namespace_roles={"team": Role.READER}, scope=Role.ADMIN)
    with pytest.raises(PermissionDenied):
        authorize(reader, Permission.MODEL_PUSH, "team")
    auditor = Grants(P, frozenset({Role.AUDITOR}))
    authorize(auditor, Permission.METADATA_READ, "team")
    authorize(auditor, Permission.AUDIT_READ)
    with pytest.raises(PermissionDenied):
        authorize(auditor, Permission.MODEL_PULL, "team")
