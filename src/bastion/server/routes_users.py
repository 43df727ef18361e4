"""People over the API: create, list, disable, enable and delete users, reset MFA, unlock,
and list or end a user's sessions (``/v1/auth/sessions``: your own). Roles go through the
grants routes (``/v1/grants`` and ``/v1/namespaces/{namespace}/grants`` with
``user:<name>``), which the identity service reads too. The route declares the permission;
the identity service checks again and audits every change and every refusal."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bastion.auth.base import PrincipalKind
from bastion.auth.rbac import Permission
from bastion.registry.errors import BadRequest
from bastion.server.security import Caller, requires, user_sessions
from bastion.server.state import ServerState

router = APIRouter(prefix="/v1")


class UserIn(BaseModel):
    name: str = Field(max_length=64)
    password: str = Field(max_length=4096, description="12+ characters, not a breached one")


def _state(request: Request) -> ServerState:
    state: ServerState = request.app.state.bastion
    return state


def _source(request: Request) -> str | None:
    return request.client.host if request.client else None


def _user_dict(user: Any) -> dict[str, Any]:
    return {
        "name": user.name,
        "principal": f"user:{user.name}",
        "disabled": user.disabled,
        "mfa": user.mfa_enabled,
        "locked": user.locked,
        "created_at": user.created_at,
        "roles": [{"namespace": g.namespace, "role": g.role.value} for g in user.grants],
    }


@router.get("/users", summary="Every user, with roles and MFA state", tags=["users"])
def list_users(
    request: Request, caller: Caller = requires(Permission.USER_MANAGE)
) -> dict[str, list[dict[str, Any]]]:
    identity = user_sessions(_state(request))
    return {"users": [_user_dict(u) for u in identity.list_users(caller.grants.principal)]}


@router.post("/users", status_code=201, summary="Create a user (no roles yet)", tags=["users"])
async def create_user(
    request: Request, body: UserIn, caller: Caller = requires(Permission.USER_MANAGE)
) -> dict[str, Any]:
    identity = user_sessions(_state(request))
    user = await run_in_threadpool(  # Argon2id: keep it off the event loop
        identity.create_user,
        caller.grants.principal,
        body.name,
        body.password,
        source=_source(request),
    )
    return _user_dict(user)


def _admin_action(name: str, summary: str, call: str, **kwargs: Any) -> None:
    def route(
        request: Request, user: str, caller: Caller = requires(Permission.USER_MANAGE)
    ) -> Response:
        identity = user_sessions(_state(request))
        getattr(identity, call)(caller.grants.principal, user, source=_source(request), **kwargs)
        return Response(status_code=204)

    route.__name__ = name.replace("-", "_") + "_user"
    router.add_api_route(
        "/users/{user}/" + name,
        route,
        methods=["POST"],
        status_code=204,
        response_class=Response,
        summary=summary,
        tags=["users"],
    )


_admin_action("disable", "Disable a user (every session ends)", "set_disabled", disabled=True)
_admin_action("enable", "Enable a disabled user", "set_disabled", disabled=False)
_admin_action("reset-mfa", "Remove the user's second factor (every session ends)", "reset_mfa")
_admin_action("unlock", "Clear the user's failed logins and lockout", "unlock")


@router.delete(
    "/users/{user}",
    status_code=204,
    response_class=Response,
    summary="Delete a user, their sessions and roles",
    tags=["users"],
)
def delete_user(
    request: Request, user: str, caller: Caller = requires(Permission.USER_MANAGE)
) -> Response:
    user_sessions(_state(request)).delete_user(
        caller.grants.principal, user, source=_source(request)
    )
    return Response(status_code=204)


def _sessions(identity: Any, actor: Any, user: str) -> dict[str, list[dict[str, Any]]]:
    return {
        "sessions": [
            {
                "id": s.id,
                "scope": s.scope.value,
                "mfa": s.mfa,
                "created_at": s.created_at,
                "expires_at": s.expires_at,
                "source": s.source,
            }
            for s in identity.list_sessions(actor, user)
        ]
    }


@router.get("/users/{user}/sessions", summary="A user's live sessions", tags=["users"])
def list_sessions(
    request: Request, user: str, caller: Caller = requires(Permission.USER_MANAGE)
) -> dict[str, list[dict[str, Any]]]:
    return _sessions(user_sessions(_state(request)), caller.grants.principal, user)


@router.delete("/users/{user}/sessions", summary="End every session of a user", tags=["users"])
def revoke_sessions(
    request: Request, user: str, caller: Caller = requires(Permission.USER_MANAGE)
) -> dict[str, int]:
    count = user_sessions(_state(request)).revoke_sessions(
        caller.grants.principal, user, source=_source(request)
    )
    return {"revoked": count}


def _own_name(caller: Caller) -> str:
    principal = caller.grants.principal
    if principal.kind is not PrincipalKind.USER:
        raise BadRequest("only users have sessions; API tokens are listed at /v1/tokens")
    return principal.name


@router.get("/auth/sessions", summary="Your own live sessions", tags=["auth"])
def own_sessions(
    request: Request, caller: Caller = requires(Permission.AUTHENTICATED)
) -> dict[str, list[dict[str, Any]]]:
    identity = user_sessions(_state(request))
    return _sessions(identity, caller.grants.principal, _own_name(caller))


@router.delete("/auth/sessions", summary="End all your sessions, this one too", tags=["auth"])
def end_own_sessions(
    request: Request, caller: Caller = requires(Permission.AUTHENTICATED)
) -> dict[str, int]:
    count = user_sessions(_state(request)).revoke_sessions(
        caller.grants.principal, _own_name(caller), source=_source(request)
    )
    return {"revoked": count}
