"""Logging in (password, then the TOTP step), enrolling a second factor, logging out.

The identity service audits every attempt (``auth.login``, ``auth.logout``,
``user.mfa.*``); the console adds nothing secret to a page or URL: the proof that the
password step passed travels in an HttpOnly cookie, and a new TOTP secret and recovery
codes appear once, on the response to the POST that made them.
"""

from __future__ import annotations

import base64
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from bastion.auth.errors import AuthError, MfaRequired, Throttled
from bastion.auth.login import TICKET_SECONDS
from bastion.auth.rbac import Permission
from bastion.auth.sessions import IssuedSession, SessionScope
from bastion.console._web import (
    FORM,
    PRE_LOGIN_COOKIE,
    SESSION_COOKIE,
    TICKET_COOKIE,
    base_path,
    check_csrf,
    clear_cookie,
    csrf_for,
    deps_of,
    enrol_session_of,
    page,
    pre_login_binding,
    render,
    session_binding,
    set_cookie,
    source_of,
)
from bastion.console.base import Viewer

router = APIRouter()

#: Routes that run before there is a session (each checks its own CSRF token).
PUBLIC_ROUTES = frozenset({"/login", "/login/code", "/mfa/enrol", "/mfa/confirm"})


def _redirect(request: Request, to: str) -> RedirectResponse:
    return RedirectResponse(base_path(request) + to, status_code=303)


def _login_page(
    request: Request, template: str, *, error: str | None = None, status_code: int = 200
) -> Response:
    value = request.cookies.get(PRE_LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        template,
        csrf=csrf_for(deps_of(request), pre_login_binding(value)),
        error=error,
        available=deps_of(request).identity is not None,
        sso=deps_of(request).sso is not None,
        status_code=status_code,
    )
    set_cookie(response, PRE_LOGIN_COOKIE, value)
    return response


def _check_pre_login(request: Request, form: dict[str, str]) -> None:
    check_csrf(
        request, pre_login_binding(request.cookies.get(PRE_LOGIN_COOKIE, "")), form.get("csrf", "")
    )


def _logged_in(request: Request, issued: IssuedSession) -> Response:
    to = "/" if issued.session.scope is SessionScope.FULL else "/mfa/enrol"
    response = _redirect(request, to)
    set_cookie(
        response,
        SESSION_COOKIE,
        issued.token,
        max_age=issued.session.expires_at - issued.session.created_at,
    )
    clear_cookie(response, TICKET_COOKIE)
    clear_cookie(response, PRE_LOGIN_COOKIE)
    return response


@router.get("/login", summary="The login form")
def login_form(request: Request) -> Response:
    return _login_page(request, "login.html")


@router.post("/login", summary="Check the password; ask for the code when the user has MFA")
def login(request: Request, form: dict[str, str] = FORM) -> Response:
    _check_pre_login(request, form)
    identity = deps_of(request).identity
    if identity is None:
        return _login_page(request, "login.html", status_code=503)
    try:
        issued = identity.login(
            form.get("username", "").strip(), form.get("password", ""), source=source_of(request)
        )
    except MfaRequired as exc:
        response = _redirect(request, "/login/code")
        set_cookie(response, TICKET_COOKIE, exc.ticket or "", max_age=TICKET_SECONDS)
        return response
    except Throttled as exc:
        return _login_page(request, "login.html", error=exc.message, status_code=429)
    except AuthError as exc:
        return _login_page(request, "login.html", error=exc.message, status_code=401)
    return _logged_in(request, issued)


@router.get("/login/code", summary="The second step: the authenticator code")
def code_form(request: Request) -> Response:
    if not request.cookies.get(TICKET_COOKIE):
        return _redirect(request, "/login")
    return _login_page(request, "login_code.html")


@router.post("/login/code", summary="Check the TOTP or recovery code; open the session")
def code(request: Request, form: dict[str, str] = FORM) -> Response:
    _check_pre_login(request, form)
    identity = deps_of(request).identity
    ticket = request.cookies.get(TICKET_COOKIE)
    if identity is None or not ticket:
        return _redirect(request, "/login")
    try:
        issued = identity.complete_login(
            ticket, form.get("code", "").strip(), source=source_of(request)
        )
    except Throttled as exc:
        return _login_page(request, "login_code.html", error=exc.message, status_code=429)
    except AuthError as exc:
        return _login_page(request, "login_code.html", error=exc.message, status_code=401)
    return _logged_in(request, issued)


@router.get("/mfa/enrol", summary="Set up a second factor (required for admins and auditors)")
def enrol_form(request: Request) -> Response:
    _, session = enrol_session_of(request)
    csrf = csrf_for(deps_of(request), session_binding(session))
    return render(request, "enrol.html", csrf=csrf, enrolment=None, user=session.user, error=None)


@router.post("/mfa/enrol", summary="Start TOTP enrolment: the secret is shown once")
def enrol(request: Request, form: dict[str, str] = FORM) -> Response:
    token, session = enrol_session_of(request)
    check_csrf(request, session_binding(session), form.get("csrf", ""))
    identity = deps_of(request).identity
    assert identity is not None  # enrol_session_of checked
    enrolment = identity.enrol_mfa(token)
    qr = "data:image/png;base64," + base64.b64encode(enrolment.qr_png()).decode("ascii")
    csrf = csrf_for(deps_of(request), session_binding(session))
    return render(
        request, "enrol.html", csrf=csrf, enrolment=enrolment, qr=qr, user=session.user, error=None
    )


@router.post("/mfa/confirm", summary="Confirm the authenticator; recovery codes are shown once")
def confirm(request: Request, form: dict[str, str] = FORM) -> Response:
    token, session = enrol_session_of(request)
    check_csrf(request, session_binding(session), form.get("csrf", ""))
    identity = deps_of(request).identity
    assert identity is not None
    csrf = csrf_for(deps_of(request), session_binding(session))
    try:
        confirmed = identity.confirm_mfa(
            token, form.get("code", "").strip(), source=source_of(request)
        )
    except AuthError as exc:
        return render(request, "enrol.html", csrf=csrf, enrolment=None, user=session.user,
                      error=exc.message, status_code=400)  # fmt: skip
    assert confirmed.session is not None
    response = render(request, "recovery_codes.html", codes=confirmed.recovery_codes, csrf="")
    new = confirmed.session
    set_cookie(
        response, SESSION_COOKIE, new.token, max_age=new.session.expires_at - new.session.created_at
    )
    return response


@router.post("/logout", summary="End the session")
def logout(request: Request, viewer: Viewer = page(Permission.AUTHENTICATED)) -> Response:
    identity = deps_of(request).identity
    token = request.cookies.get(SESSION_COOKIE)
    if identity is not None and token:
        identity.logout(token)
    response = _redirect(request, "/login")
    clear_cookie(response, SESSION_COOKIE)
    return response
