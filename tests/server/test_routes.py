"""Every route declares its permission, and every role gets exactly what it should."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Mount, Route

from bastion.auth.base import Role
from bastion.auth.rbac import GLOBAL, Permission, grant
from bastion.auth.tokens import issue_token
from bastion.server import PUBLIC_PATHS
from bastion.server.app import CONSOLE_PATH
from bastion.server.security import Requires
from tests.server.conftest import Env


def _permission(route: APIRoute) -> Permission | None:
    found = [
        d.call.permission for d in route.dependant.dependencies if isinstance(d.call, Requires)
    ]
    assert len(found) <= 1, f"{route.path} declares several permissions"
    return found[0] if found else None


def _routes(env: Env) -> list[tuple[str, str, Permission]]:
    out = []
    for route in env.client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Mount) and route.path == CONSOLE_PATH:
            continue  # the console's routes are checked in tests/console
        assert isinstance(route, Route)
        if route.path in PUBLIC_PATHS:
            continue
        assert isinstance(route, APIRoute), f"{route.path} is not an API route"
        permission = _permission(route)
        assert permission is not None, (
            f"{sorted(route.methods)} {route.path} declares no permission"
        )
        out.extend((method, route.path, permission) for method in sorted(route.methods))
    return out


def test_every_route_declares_a_permission(sqlite_env: Env) -> None:
    routes = _routes(sqlite_env)
    assert len(routes) >= 20
    assert {"/healthz", "/", "/v1/auth/login"} == PUBLIC_PATHS  # login: how a user gets in


def test_openapi_describes_every_route(sqlite_env: Env) -> None:
    response = sqlite_env.client.get("/openapi.json", headers=sqlite_env.headers())
    assert response.status_code == 200
    documented = {
        (method.upper(), path) for path, ops in response.json()["paths"].items() for method in ops
    }
    for method, path, _ in _routes(sqlite_env):
        if path != "/openapi.json":
            assert (method, path.replace(":path}", "}")) in documented


NS_ROLES = {
    "reader": Role.READER,
    "publisher": Role.PUBLISHER,
    "maintainer": Role.MAINTAINER,
    "ns-admin": Role.ADMIN,
}
ALL = {
    "reader",
    "publisher",
    "maintainer",
    "ns-admin",
    "global-admin",
    "auditor",
    "nobody",
    "other-admin",
    "scoped-reader",
    "limited",
}
# Who may do what in namespace "team" (written out by hand, not computed by the code under test).
EXPECTED: dict[Permission, set[str]] = {
    Permission.AUTHENTICATED: ALL,
    Permission.AUDIT_READ: {"global-admin", "auditor"},  # /metrics
    Permission.METADATA_READ: {
        "reader",
        "publisher",
        "maintainer",
        "ns-admin",
        "global-admin",
        "auditor",
        "scoped-reader",
    },
    Permission.MODEL_PULL: {
        "reader",
        "publisher",
        "maintainer",
        "ns-admin",
        "global-admin",
        "scoped-reader",
    },
    Permission.MODEL_PUSH: {"publisher", "maintainer", "ns-admin", "global-admin"},
    Permission.POLICY_WRITE: {"maintainer", "ns-admin", "global-admin"},
    Permission.RELEASE: {"ns-admin", "global-admin"},
    Permission.GRANT_MANAGE: {"ns-admin", "global-admin"},
    Permission.NAMESPACE_CREATE: {"global-admin"},
    Permission.TOKEN_MANAGE: {"global-admin"},
    Permission.GLOBAL_GRANT_MANAGE: {"global-admin"},
    Permission.USER_MANAGE: {"global-admin"},
}


def _tokens(env: Env) -> dict[str, str]:
    tokens: dict[str, str] = {}
    with env.state.engine.begin() as conn:

        def make(name: str, role: Role | None, namespace: str = GLOBAL, **kw: object) -> None:
            issued = issue_token(conn, name=name, created_by="test", ttl=timedelta(hours=1), **kw)  # type: ignore[arg-type]
            if role is not None:
                grant(conn, issued.info.principal.id, role, namespace)
            tokens[name] = issued.secret

        for name, role in NS_ROLES.items():
            make(name, role, "team")
        make("global-admin", Role.ADMIN)
        make("auditor", Role.AUDITOR)
        make("nobody", None)
        make("other-admin", Role.ADMIN, "other")
        make("scoped-reader", Role.ADMIN, scope=Role.READER)
        make("limited", Role.ADMIN, namespaces=("other",))
    return tokens


_VALUES = {
    "namespace": "team",
    "model": "m",
    "version": "1",
    "path": "f.bin",
    "upload_id": "u" * 32,
    "token_id": "abc",
    "user": "nobody-such",
}


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)(?::path)?\}", lambda m: _VALUES[m[1]], path)


def test_role_matrix(sqlite_env: Env) -> None:
    env = sqlite_env
    for ns in ("team", "other"):
        env.client.post("/v1/namespaces", json={"name": ns}, headers=env.headers())
    tokens = _tokens(env)
    routes = _routes(env)
    assert {p for _, _, p in routes} <= set(EXPECTED)
    failures = []
    for method, path, permission in routes:
        for who, token in tokens.items():
            response = env.client.request(
                method,
                _url(path),
                headers=env.headers(token),
                json={},
                params={"principal": "x", "role": "reader"},
            )
            allowed = who in EXPECTED[permission]
            if allowed == (response.status_code == 403):
                failures.append(f"{who} {method} {path} -> {response.status_code}")
        response = env.client.request(method, _url(path))
        if response.status_code != 401:
            failures.append(f"anonymous {method} {path} -> {response.status_code}")
    assert failures == [], "\n".join(failures)
    assert {e.actor for e in env.audit.events if e.action == "access.denied"} >= {"token:nobody"}


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "bearer bst_nope", "Token x"])
def test_malformed_credentials_get_401(sqlite_env: Env, header: str) -> None:
    response = sqlite_env.client.get("/v1/whoami", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_grants_name_a_principal_kind(sqlite_env: Env) -> None:
    h = sqlite_env.headers()
    sqlite_env.client.post("/v1/namespaces", json={"name": "team"}, headers=h)
    bad = sqlite_env.client.put(
        "/v1/namespaces/team/grants", json={"principal": "alice", "role": "reader"}, headers=h
    )
    assert bad.status_code == 400
    good = sqlite_env.client.put(
        "/v1/namespaces/team/grants", json={"principal": "user:alice", "role": "reader"}, headers=h
    )
    assert good.status_code == 200
    listed = sqlite_env.client.get("/v1/namespaces/team/grants", headers=h).json()
    assert listed == {"grants": [{"principal": "user:alice", "role": "reader", "source": "api"}]}
    assert "grant.add" in sqlite_env.audit.actions()
