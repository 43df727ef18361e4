"""The console's web security: cookies, CSRF, security headers, the page declaration,
forms and rendering.

- Session cookie ``__Host-bastion-session``: Secure, HttpOnly, SameSite=Strict, Path=/, no
  Domain; its value is an identity session token (stored server-side only as a hash).
- CSRF: every POST carries a ``csrf`` field, HMAC-SHA256 (a per-server key) of the session
  id, or before login of a random pre-login cookie (login CSRF); compared in constant time.
- Every response carries a strict Content-Security-Policy (no inline script or style),
  ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``, ``nosniff`` and
  ``Cache-Control: no-store``.
- Every page declares a :class:`Page` dependency with its :class:`Permission`; a test walks
  the routes and fails on one without it. The decision is :func:`bastion.auth.rbac.authorize`
  over the user's grants, and denials are audited.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion.audit import AuditEvent, Outcome
from bastion.auth.errors import AuthenticationFailed
from bastion.auth.errors import PermissionDenied as SessionScopeDenied
from bastion.auth.rbac import Permission, PermissionDenied, authorize, load_grants
from bastion.auth.sessions import Session, SessionScope
from bastion.console.base import ConsoleDeps, Viewer
from bastion.errors import BastionError

SESSION_COOKIE = "__Host-bastion-session"
PRE_LOGIN_COOKIE = "__Host-bastion-login"
TICKET_COOKIE = "__Host-bastion-mfa"
SSO_COOKIE = "__Host-bastion-sso"  # SameSite=Lax: it must come back on the provider's redirect
MAX_FORM_BYTES = 64 * 1024

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cross-origin-opener-policy": "same-origin",
    "cache-control": "no-store",
}

_HERE = Path(__file__).parent
STATIC_DIR = _HERE / "static"
templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=True,  # every value is HTML-escaped unless a template says otherwise (none do)
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class SecurityHeaders:
    """ASGI middleware: the headers above on every console response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class LoginNeeded(BastionError):
    """No live session: the browser is sent to the login page."""

    hint = "Log in again."

    def __init__(self, message: str = "log in first", *, enrol: bool = False) -> None:
        super().__init__(message)
        self.enrol = enrol


class CsrfRejected(BastionError):
    hint = "Reload the page and submit the form again."


class BadForm(BastionError):
    hint = "Submit the form from the console's own page."


def deps_of(request: Request) -> ConsoleDeps:
    deps: ConsoleDeps = request.app.state.console
    return deps


def source_of(request: Request) -> str | None:
    return request.client.host if request.client else None


def base_path(request: Request) -> str:
    """Where the console is mounted (``/console``): links are built from it."""
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


# --- CSRF ---------------------------------------------------------------------------------
def csrf_for(deps: ConsoleDeps, binding: str) -> str:
    return hmac.new(deps.csrf_key, binding.encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, binding: str, given: str) -> None:
    deps = deps_of(request)
    expected = csrf_for(deps, binding).encode()
    if not hmac.compare_digest(expected, given.encode("utf-8", "surrogateescape")):
        deps.audit.emit(
            AuditEvent(
                action="console.csrf",
                actor="anonymous",
                outcome=Outcome.DENIED,
                resource=request.url.path,
                source=source_of(request),
                reason="missing or wrong CSRF token",
            )
        )
        raise CsrfRejected("the form's CSRF token is missing or wrong")


def session_binding(session: Session) -> str:
    return f"session:{session.id}"


def pre_login_binding(value: str) -> str:
    return f"pre-login:{value}"


# --- forms ----------------------------------------------------------------------------------
async def read_form(request: Request) -> dict[str, str]:
    """The url-encoded form of a POST (first value per field), at most 64 KiB."""
    cached: dict[str, str] | None = getattr(request.state, "form", None)
    if cached is not None:
        return cached
    declared = request.headers.get("content-length", "0")
    if not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
        raise BadForm("the form is too large")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise BadForm("the form is too large")
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and kind != "application/x-www-form-urlencoded":
        raise BadForm("expected an HTML form (application/x-www-form-urlencoded)")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=64)
    except (UnicodeDecodeError, ValueError):
        raise BadForm("the form could not be read") from None
    form: dict[str, str] = {}
    for key, value in pairs:
        form.setdefault(key, value)
    request.state.form = form
    return form


# --- sessions and the page declaration --------------------------------------------------------
def session_of(request: Request) -> Session:
    """The request's live full session, or :class:`LoginNeeded`."""
    deps = deps_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if not token or deps.identity is None:
        raise LoginNeeded()
    try:
        return deps.identity.authenticate(token)
    except SessionScopeDenied:
        raise LoginNeeded("set up a second factor first", enrol=True) from None
    except AuthenticationFailed:
        raise LoginNeeded("the session ended: log in again") from None


def enrol_session_of(request: Request) -> tuple[str, Session]:
    """A session that may enrol MFA (any scope), with its token."""
    deps = deps_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    if not token or deps.identity is None:
        raise LoginNeeded()
    try:
        return token, deps.identity.authenticate(token, scope=SessionScope.ENROL_MFA)
    except AuthenticationFailed:
        raise LoginNeeded("the session ended: log in again") from None


class Page:
    """The dependency every console route declares: the user's session, the CSRF check on
    POST, and :func:`authorize` of ``permission`` (namespace from the path)."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Viewer:
        form = await read_form(request) if request.method == "POST" else None
        # the session and grants come from the database: off the event loop
        return await run_in_threadpool(self.check, request, form)

    def check(self, request: Request, form: dict[str, str] | None) -> Viewer:
        deps = deps_of(request)
        session = session_of(request)
        binding = session_binding(session)
        if form is not None:
            check_csrf(request, binding, form.get("csrf", ""))
        with deps.engine.connect() as conn:
            grants = load_grants(conn, session.principal)
        namespace = request.path_params.get("namespace")
        try:
            authorize(grants, self.permission, namespace)
        except PermissionDenied as exc:
            deps.audit.emit(
                AuditEvent(
                    action="access.denied",
                    actor=session.principal.id,
                    outcome=Outcome.DENIED,
                    resource=request.url.path,
                    source=source_of(request),
                    reason=exc.message,
                    details={"permission": self.permission.value, "method": request.method},
                )
            )
            raise
        return Viewer(session, grants, csrf_for(deps, binding))


def page(permission: Permission) -> Any:
    """``Depends(...)`` for a console route that needs ``permission``."""
    return Depends(Page(permission))


async def form_data(request: Request) -> dict[str, str]:
    """The POST's form, for a route that is itself synchronous (it runs in a worker thread,
    so password hashing and database work never block the event loop)."""
    return await read_form(request)


FORM: Any = Depends(form_data)


# --- cookies and rendering ----------------------------------------------------------------------
def set_cookie(
    response: Response,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    samesite: Literal["strict", "lax"] = "strict",
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite=samesite
    )


def clear_cookie(
    response: Response, name: str, *, samesite: Literal["strict", "lax"] = "strict"
) -> None:
    response.delete_cookie(name, path="/", secure=True, httponly=True, samesite=samesite)


def render(
    request: Request,
    template: str,
    *,
    viewer: Viewer | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    html = templates.get_template(template).render(
        base=base_path(request),
        viewer=viewer,
        csrf=viewer.csrf if viewer is not None else context.pop("csrf", ""),
        path=request.url.path,
        Permission=Permission,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)
