"""User login over the API: a password (and a TOTP or recovery code) for a session token.

``POST /v1/auth/login`` is public; everything it does is :meth:`IdentityService.login`
(throttling per account and per source, the same answer and timing for unknown users and
wrong passwords, audited). The token (``bss_...``) is then a bearer credential like an
API token, for as long as the session lives: until it expires, the user logs out, or a
password change or MFA reset ends every session of the user. API tokens stay for machines.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from bastion.auth.rbac import Permission
from bastion.auth.sessions import TOKEN_PREFIX
from bastion.registry.errors import BadRequest
from bastion.server.security import Caller, requires, user_sessions
from bastion.server.state import ServerState

router = APIRouter(prefix="/v1")

#: The login route answers without credentials (it is how a user gets one).
LOGIN_PATH = "/v1/auth/login"


class LoginIn(BaseModel):
    user: str = Field(max_length=200)
    password: str = Field(max_length=4096)
    code: str | None = Field(None, max_length=64, description="TOTP or recovery code")


@router.post(
    "/auth/login",
    summary="Log in as a user: a short-lived session token (public route)",
    tags=["auth"],
    responses={401: {"description": "wrong credentials, or MfaRequired: send the code too"},
               429: {"description": "throttled: retry after Retry-After seconds"}},
)  # fmt: skip
def login(request: Request, body: LoginIn) -> dict[str, Any]:
    state: ServerState = request.app.state.bastion
    source = request.client.host if request.client else None
    issued = user_sessions(state).login(body.user, body.password, code=body.code, source=source)
    session = issued.session
    return {
        "token": issued.token,
        "principal": session.principal.id,
        "scope": session.scope.value,  # "enrol-mfa": enrol a second factor before anything
        "mfa": session.mfa,
        "expires_at": session.expires_at,
    }


@router.post(
    "/auth/logout",
    status_code=204,
    response_class=Response,
    summary="End the caller's session (API tokens are revoked with DELETE /v1/tokens/{id})",
    tags=["auth"],
)
def logout(request: Request, caller: Caller = requires(Permission.AUTHENTICATED)) -> Response:
    bearer = request.headers.get("authorization", "").partition(" ")[2].strip()
    if not bearer.startswith(TOKEN_PREFIX):
        raise BadRequest(
            "only a user session logs out", hint="Revoke an API token with DELETE /v1/tokens/{id}."
        )
    user_sessions(request.app.state.bastion).logout(bearer)
    return Response(status_code=204)
