"""Who am I, API tokens, and role grants (global and per namespace)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bastion.audit import AuditEvent
from bastion.auth.base import Role
from bastion.auth.rbac import GLOBAL, Permission, grant, list_grants, revoke
from bastion.auth.tokens import TokenInfo, issue_token, list_tokens, revoke_token
from bastion.registry.errors import BadRequest, NotFound
from bastion.registry.names import check_name
from bastion.server.security import Caller, requires
from bastion.server.state import ServerState

router = APIRouter(prefix="/v1")


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.bastion
    return state


def _audit(request: Request, action: str, caller: Caller, resource: str, **details: Any) -> None:
    _state(request).audit.emit(
        AuditEvent(action=action, actor=caller.id, resource=resource, details=details)
    )


class TokenIn(BaseModel):
    name: str = Field(description="the principal is token:<name>")
    ttl_days: float = Field(30, gt=0, le=3650)
    scope: Role = Field(Role.ADMIN, description="the highest role the token may exercise")
    namespaces: list[str] = Field(default_factory=list, description="empty: no limit")


class GrantIn(BaseModel):
    principal: str = Field(description="e.g. token:ci-bot or user:alice")
    role: Role


def _token_dict(info: TokenInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "principal": info.principal.id,
        "scope": info.scope.value,
        "namespaces": list(info.namespaces),
        "created_by": info.created_by,
        "created_at": info.created_at.isoformat(),
        "expires_at": info.expires_at.isoformat(),
        "revoked_at": info.revoked_at.isoformat() if info.revoked_at else None,
    }


@router.get("/whoami", summary="The caller's principal, token and roles")
def whoami(caller: Caller = requires(Permission.AUTHENTICATED)) -> dict[str, Any]:
    grants = caller.grants
    return {
        "principal": caller.id,
        "token": _token_dict(caller.token) if caller.token is not None else None,
        "global_roles": sorted(r.value for r in grants.global_roles),
        "namespace_roles": {ns: r.value for ns, r in sorted(grants.namespace_roles.items())},
    }


@router.get("/tokens", summary="Every API token (never their secrets)")
def get_tokens(
    request: Request, caller: Caller = requires(Permission.TOKEN_MANAGE)
) -> dict[str, list[dict[str, Any]]]:
    with _state(request).engine.connect() as conn:
        return {"tokens": [_token_dict(t) for t in list_tokens(conn)]}


@router.post("/tokens", status_code=201, summary="Create an API token; its secret is shown once")
def create_token(
    request: Request, body: TokenIn, caller: Caller = requires(Permission.TOKEN_MANAGE)
) -> dict[str, Any]:
    for namespace in body.namespaces:
        check_name(namespace, "namespace")
    try:
        with _state(request).engine.begin() as conn:
            issued = issue_token(
                conn,
                name=body.name,
                created_by=caller.id,
                ttl=timedelta(days=body.ttl_days),
                scope=body.scope,
                namespaces=body.namespaces,
            )
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    _audit(request, "token.create", caller, issued.info.principal.id, token=issued.info.id)
    return {**_token_dict(issued.info), "secret": issued.secret}


@router.delete(
    "/tokens/{token_id}", status_code=204, summary="Revoke a token", response_class=Response
)
def delete_token(
    request: Request, token_id: str, caller: Caller = requires(Permission.TOKEN_MANAGE)
) -> Response:
    with _state(request).engine.begin() as conn:
        if not revoke_token(conn, token_id):
            raise NotFound(f"no live token {token_id!r}")
    _audit(request, "token.revoke", caller, f"token-id:{token_id}")
    return Response(status_code=204)


_PRINCIPAL = re.compile(r"(token|user|cert):[^\s:]{1,200}")


def _grant(request: Request, caller: Caller, body: GrantIn, namespace: str) -> dict[str, str]:
    if not _PRINCIPAL.fullmatch(body.principal):
        raise BadRequest(
            f"invalid principal {body.principal[:80]!r}: token:NAME, user:NAME or cert:NAME"
        )
    try:
        with _state(request).engine.begin() as conn:
            grant(conn, body.principal, body.role, namespace)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    _audit(request, "grant.add", caller, body.principal, role=body.role.value, namespace=namespace)
    identity = _state(request).identity
    if identity is not None and body.principal.startswith("user:"):
        # a role that needs MFA ends the sessions of a user without it, as `bastion users grant`
        identity.require_mfa_if_needed(body.principal.removeprefix("user:"))
    return {"principal": body.principal, "role": body.role.value, "namespace": namespace}


def _revoke(request: Request, caller: Caller, principal: str, role: Role, namespace: str) -> None:
    with _state(request).engine.begin() as conn:
        if not revoke(conn, principal, role, namespace):
            raise NotFound(f"{principal} has no {role.value} grant there")
    _audit(request, "grant.remove", caller, principal, role=role.value, namespace=namespace)


def _grant_rows(request: Request, namespace: str) -> dict[str, list[dict[str, str]]]:
    with _state(request).engine.connect() as conn:
        rows = list_grants(conn, namespace)
    return {"grants": [{"principal": p, "role": r.value, "source": src} for p, _, r, src in rows]}


@router.get("/grants", summary="Global role grants")
def get_global_grants(
    request: Request, caller: Caller = requires(Permission.GLOBAL_GRANT_MANAGE)
) -> dict[str, list[dict[str, str]]]:
    return _grant_rows(request, GLOBAL)


@router.put("/grants", summary="Grant a global role (admin or auditor)")
def put_global_grant(
    request: Request, body: GrantIn, caller: Caller = requires(Permission.GLOBAL_GRANT_MANAGE)
) -> dict[str, str]:
    return _grant(request, caller, body, GLOBAL)


@router.delete("/grants", status_code=204, summary="Revoke a global role", response_class=Response)
def delete_global_grant(
    request: Request,
    principal: str,
    role: Role,
    caller: Caller = requires(Permission.GLOBAL_GRANT_MANAGE),
) -> Response:
    _revoke(request, caller, principal, role, GLOBAL)
    return Response(status_code=204)


@router.get("/namespaces/{namespace}/grants", summary="Role grants in a namespace")
def get_grants(
    request: Request, namespace: str, caller: Caller = requires(Permission.GRANT_MANAGE)
) -> dict[str, list[dict[str, str]]]:
    return _grant_rows(request, namespace)


@router.put("/namespaces/{namespace}/grants", summary="Grant a role in a namespace")
def put_grant(
    request: Request,
    namespace: str,
    body: GrantIn,
    caller: Caller = requires(Permission.GRANT_MANAGE),
) -> dict[str, str]:
    _state(request).registry.policy(namespace)  # 404 for a namespace that does not exist
    return _grant(request, caller, body, namespace)


@router.delete(
    "/namespaces/{namespace}/grants",
    status_code=204,
    summary="Revoke a role in a namespace",
    response_class=Response,
)
def delete_grant(
    request: Request,
    namespace: str,
    principal: str,
    role: Role,
    caller: Caller = requires(Permission.GRANT_MANAGE),
) -> Response:
    _revoke(request, caller, principal, role, namespace)
    return Response(status_code=204)
