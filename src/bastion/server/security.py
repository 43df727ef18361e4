"""Authentication and the per-route permission declaration.

Every route of the app declares what it needs with ``Depends(requires(Permission.X))``;
a test walks every route and fails on one without it. The dependency authenticates the
bearer credential (an API token, or a user's login session ``bss_...``) or, without one,
the connection's verified client certificate under mTLS, loads the principal's grants,
and asks :func:`bastion.auth.rbac.authorize` (the one decision point), with the namespace
taken from the route's ``namespace`` path parameter. Denials are audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Request

from bastion.audit import AuditEvent, Outcome
from bastion.auth.errors import AuthError
from bastion.auth.rbac import Grants, Permission, PermissionDenied, authorize, load_grants
from bastion.auth.sessions import TOKEN_PREFIX as SESSION_PREFIX
from bastion.auth.sessions import Session
from bastion.auth.tokens import AuthenticationError, TokenInfo, authenticate
from bastion.server.mtls import certificate_principal

if TYPE_CHECKING:
    from bastion.auth.service import IdentityService

__all__ = ["Caller", "Requires", "requires", "user_sessions"]


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated, authorized caller of one request."""

    grants: Grants
    token: TokenInfo | None  # None for a client certificate (mTLS)

    @property
    def id(self) -> str:
        return self.grants.principal.id


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationError("this route needs an API token: Authorization: Bearer <token>")
    return value.strip()


def user_sessions(state: Any) -> IdentityService:
    """The server's identity service; an error when the server runs without one."""
    identity: IdentityService | None = state.identity
    if identity is None:
        raise AuthenticationError("no user accounts here: argon2-cffi or pyotp is missing")
    return identity


def _session(state: Any, bearer: str) -> Session:
    """The live, fully logged-in session of ``bearer``: one still waiting for MFA
    enrolment, expired, revoked or ended by a credential change is refused."""
    try:
        return user_sessions(state).authenticate(bearer)
    except AuthError:
        raise AuthenticationError("the session is unknown, expired or ended") from None


class Requires:
    """The dependency a route declares; ``permission`` is what it checks."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(self, request: Request) -> Caller:
        state = request.app.state.bastion
        namespace = request.path_params.get("namespace")
        source = request.client.host if request.client else None
        certificate = None
        if "authorization" not in request.headers:
            certificate = certificate_principal(request.scope.get("state"))
        token: TokenInfo | None = None
        try:
            with state.engine.connect() as conn:
                if certificate is not None:
                    grants = load_grants(conn, certificate)
                else:
                    bearer = _bearer(request)
                    if bearer.startswith(SESSION_PREFIX):  # a user's login session
                        grants = load_grants(conn, _session(state, bearer).principal)
                    else:
                        token = authenticate(conn, bearer)
                        grants = load_grants(
                            conn,
                            token.principal,
                            scope=token.scope,
                            namespace_limits=token.namespaces,
                        )
        except AuthenticationError as exc:
            state.audit.emit(
                AuditEvent(
                    action="auth.token",
                    actor="anonymous",
                    outcome=Outcome.DENIED,
                    resource=request.url.path,
                    source=source,
                    reason=exc.message,
                )
            )
            raise
        try:
            authorize(grants, self.permission, namespace)
        except PermissionDenied as exc:
            state.audit.emit(
                AuditEvent(
                    action="access.denied",
                    actor=grants.principal.id,
                    outcome=Outcome.DENIED,
                    resource=request.url.path,
                    source=source,
                    reason=exc.message,
                    details={"permission": self.permission.value, "method": request.method},
                )
            )
            raise
        return Caller(grants, token)


def requires(permission: Permission) -> Any:
    """``Depends(...)`` for a route that needs ``permission``."""
    return Depends(Requires(permission))
