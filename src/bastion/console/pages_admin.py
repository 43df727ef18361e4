"""Administration: users (create, disable, roles, MFA reset) and API tokens.

Global admins only (``grant:manage-global`` and ``token:manage``). User changes go through
the identity service, which checks again and audits each one; token changes are audited
here as the API's are (``token.create``, ``token.revoke``). A new token's secret appears
once, in the response to the POST that created it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from bastion.audit import AuditEvent
from bastion.auth.base import GLOBAL_ROLES, NAMESPACE_ROLES, Role
from bastion.auth.rbac import Permission
from bastion.auth.tokens import issue_token, list_tokens, revoke_token
from bastion.auth.user_grants import GLOBAL as USER_GLOBAL
from bastion.console._web import FORM, base_path, deps_of, page, render, source_of
from bastion.console.base import Viewer
from bastion.errors import BastionError

if TYPE_CHECKING:
    from bastion.auth.service import IdentityService

router = APIRouter()
ROLES = [r.value for r in (*NAMESPACE_ROLES, Role.AUDITOR)]


def _identity(request: Request) -> IdentityService:
    identity = deps_of(request).identity
    if identity is None:
        raise BastionError(
            "user management needs the identity packages (argon2-cffi, pyotp)",
            hint="Reinstall bastion-ml on the server and restart it.",
        )
    return identity


def _users_page(
    request: Request, viewer: Viewer, *, error: str | None = None, done: str | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    users = _identity(request).list_users(viewer.principal)
    return render(
        request, "users.html", viewer=viewer, users=users, roles=ROLES, error=error, done=done,
        global_marker=USER_GLOBAL, status_code=status_code,
    )  # fmt: skip


@router.get("/users", summary="Users, their roles and MFA")
def users(request: Request, viewer: Viewer = page(Permission.GLOBAL_GRANT_MANAGE)) -> Response:
    return _users_page(request, viewer)


def _act(request: Request, viewer: Viewer, action: Callable[[], object], done: str) -> Response:
    """Run a user change; show its error on the users page, or go back to it."""
    try:
        action()
    except (BastionError, ValueError) as exc:
        message = exc.message if isinstance(exc, BastionError) else str(exc)
        return _users_page(request, viewer, error=message, status_code=400)
    return RedirectResponse(f"{base_path(request)}/users?done={done}", status_code=303)


@router.post("/users", summary="Create a user")
def create_user(
    request: Request,
    form: dict[str, str] = FORM,
    viewer: Viewer = page(Permission.GLOBAL_GRANT_MANAGE),
) -> Response:
    identity = _identity(request)
    name, password = form.get("username", "").strip(), form.get("password", "")
    return _act(
        request, viewer,
        lambda: identity.create_user(viewer.principal, name, password, source=source_of(request)),
        "created",
    )  # fmt: skip


@router.post("/users/{name}/{change}", summary="Disable, enable, reset MFA, grant or revoke")
def change_user(
    request: Request,
    name: str,
    change: str,
    form: dict[str, str] = FORM,
    viewer: Viewer = page(Permission.GLOBAL_GRANT_MANAGE),
) -> Response:
    identity = _identity(request)
    actor, source = viewer.principal, source_of(request)
    if change in ("disable", "enable"):
        return _act(request, viewer, lambda: identity.set_disabled(
            actor, name, disabled=change == "disable", source=source), change)  # fmt: skip
    if change == "mfa-reset":
        return _act(request, viewer, lambda: identity.reset_mfa(actor, name, source=source), change)
    if change in ("grant", "revoke"):
        try:
            role = Role(form.get("role", ""))
        except ValueError:
            return _users_page(request, viewer, error="pick a role", status_code=400)
        namespace = form.get("namespace", "").strip()
        if role in GLOBAL_ROLES and not namespace:
            namespace = USER_GLOBAL
        method = identity.grant if change == "grant" else identity.revoke
        return _act(request, viewer, lambda: method(actor, name, role, namespace, source=source),
                    change)  # fmt: skip
    return _users_page(request, viewer, error=f"unknown change {change[:40]!r}", status_code=404)


# --- API tokens ------------------------------------------------------------------------
def _tokens_page(
    request: Request, viewer: Viewer, *, error: str | None = None, status_code: int = 200
) -> Response:
    with deps_of(request).engine.connect() as conn:
        tokens = sorted(list_tokens(conn), key=lambda t: t.created_at, reverse=True)
    return render(
        request, "tokens.html", viewer=viewer, tokens=tokens, roles=[r.value for r in Role],
        error=error, status_code=status_code,
    )  # fmt: skip


@router.get("/tokens", summary="API tokens (never their secrets)")
def tokens(request: Request, viewer: Viewer = page(Permission.TOKEN_MANAGE)) -> Response:
    return _tokens_page(request, viewer)


@router.post("/tokens", summary="Create an API token; its secret is shown on this response only")
def create_token(
    request: Request, form: dict[str, str] = FORM, viewer: Viewer = page(Permission.TOKEN_MANAGE)
) -> Response:
    deps = deps_of(request)
    try:
        days = float(form.get("ttl_days", "30") or "30")
        if not 0 < days <= 3650:
            raise ValueError("a token lives 1 to 3650 days")
        namespaces = [n.strip() for n in form.get("namespaces", "").split(",") if n.strip()]
        unknown = set(namespaces) - set(deps.registry.namespaces())
        if unknown:
            raise ValueError(f"no namespace {sorted(unknown)[0][:64]!r}")
        with deps.engine.begin() as conn:
            issued = issue_token(
                conn, name=form.get("name", "").strip(), created_by=viewer.id,
                ttl=timedelta(days=days), scope=Role(form.get("scope", "reader")),
                namespaces=namespaces,
            )  # fmt: skip
    except (BastionError, ValueError) as exc:
        message = exc.message if isinstance(exc, BastionError) else str(exc)
        return _tokens_page(request, viewer, error=message, status_code=400)
    deps.audit.emit(AuditEvent(action="token.create", actor=viewer.id, source=source_of(request),
                               resource=issued.info.principal.id,
                               details={"token": issued.info.id}))  # fmt: skip
    return render(request, "token_created.html", viewer=viewer, issued=issued)


@router.post("/tokens/{token_id}/revoke", summary="Revoke an API token")
def revoke(
    request: Request, token_id: str, viewer: Viewer = page(Permission.TOKEN_MANAGE)
) -> Response:
    deps = deps_of(request)
    with deps.engine.begin() as conn:
        revoked = revoke_token(conn, token_id[:100])
    if not revoked:
        return _tokens_page(request, viewer, error="no live token with that id", status_code=404)
    deps.audit.emit(AuditEvent(action="token.revoke", actor=viewer.id, source=source_of(request),
                               resource=f"token-id:{token_id}"))  # fmt: skip
    return RedirectResponse(f"{base_path(request)}/tokens", status_code=303)
