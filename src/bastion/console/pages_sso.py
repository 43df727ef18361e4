"""Single sign-on (OpenID Connect, authorization code flow with PKCE) for the console.

``/login/sso`` starts a login at the provider; the state, nonce and PKCE verifier travel in
a cookie sealed with the identity key (AES-256-GCM, valid ten minutes), SameSite=Lax so it
comes back on the provider's redirect to ``/login/sso/callback``. There the code is
redeemed and the ID token verified (:class:`bastion.auth.oidc.OidcClient`), and the identity
service logs the user in (creating them at their first login, syncing the roles their
groups map to). A user with a local second factor whose provider reported none goes on to
the code step. The session cookie is SameSite=Strict, which a browser withholds on a
navigation that began at another site, so the callback answers with a page that moves on
by itself (a meta refresh, no script) rather than a redirect.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from bastion.auth.errors import AuthError, MfaRequired
from bastion.auth.login import TICKET_SECONDS
from bastion.auth.sessions import SessionScope
from bastion.console._web import (
    SESSION_COOKIE,
    SSO_COOKIE,
    TICKET_COOKIE,
    base_path,
    clear_cookie,
    deps_of,
    render,
    set_cookie,
    source_of,
)
from bastion.errors import BastionError, VerificationError

router = APIRouter()
PUBLIC_ROUTES = frozenset({"/login/sso", "/login/sso/callback"})
_OWNER = "sso-request"
SSO_SECONDS = 600


class SsoUnavailable(BastionError):
    hint = "Log in with a user name and password, or ask the operator to configure [sso]."


def _failed(request: Request, message: str) -> Response:
    response = render(
        request, "error.html", status_code=401, title="Single sign-on failed", message=message,
        hint="Start the login again; if it keeps failing, ask an admin.", csrf="",
    )  # fmt: skip
    clear_cookie(response, SSO_COOKIE, samesite="lax")
    return response


@router.get("/login/sso", summary="Start a single sign-on login at the identity provider")
def start(request: Request) -> Response:
    deps = deps_of(request)
    if deps.sso is None or deps.identity is None:
        raise SsoUnavailable("single sign-on is not configured on this server")
    auth = deps.sso.begin()
    sealed = deps.identity.secret_box.seal(
        json.dumps([auth.state, auth.nonce, auth.code_verifier, auth.created_at]), owner=_OWNER
    )
    response = RedirectResponse(auth.url, status_code=303)
    set_cookie(response, SSO_COOKIE, sealed, max_age=SSO_SECONDS, samesite="lax")
    return response


@router.get("/login/sso/callback", summary="The identity provider sends the browser back here")
def callback(request: Request) -> Response:
    deps = deps_of(request)
    if deps.sso is None or deps.identity is None:
        raise SsoUnavailable("single sign-on is not configured on this server")
    from bastion.auth.oidc import AuthRequest  # the oidc extra (pyjwt): present when sso is set

    try:
        state, nonce, verifier, created = json.loads(
            deps.identity.secret_box.open(request.cookies.get(SSO_COOKIE, ""), owner=_OWNER)
        )
        pending = AuthRequest("", str(state), str(nonce), str(verifier), float(created))
    except (VerificationError, ValueError, TypeError):
        return _failed(request, "this login was not started here, or took too long")
    params = {k: v[:2000] for k, v in request.query_params.items()}
    try:
        identity = deps.sso.finish(pending, params)
        issued = deps.identity.sso_login(identity, source=source_of(request))
    except MfaRequired as exc:
        code_step = render(request, "signed_in.html", to=base_path(request) + "/login/code",
                           heading="One more step: your second factor", csrf="")  # fmt: skip
        set_cookie(code_step, TICKET_COOKIE, exc.ticket or "", max_age=TICKET_SECONDS)
        clear_cookie(code_step, SSO_COOKIE, samesite="lax")
        return code_step
    except AuthError as exc:
        return _failed(request, exc.message)
    to = "/" if issued.session.scope is SessionScope.FULL else "/mfa/enrol"
    response = render(
        request, "signed_in.html", to=base_path(request) + to, heading="Signed in", csrf=""
    )
    set_cookie(
        response, SESSION_COOKIE, issued.token,
        max_age=issued.session.expires_at - issued.session.created_at,
    )  # fmt: skip
    clear_cookie(response, SSO_COOKIE, samesite="lax")
    return response
