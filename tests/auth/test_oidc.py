"""Single sign-on against a small OpenID Connect provider served on a real port.

The provider implements discovery, JWKS, an authorization endpoint that redirects with a
code, and a token endpoint that checks the client secret and the PKCE verifier (S256)
before it signs an ID token (RS256) with the nonce it was given.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bastion.audit import MemoryAuditSink
from bastion.auth.base import Role
from bastion.auth.errors import AuthenticationFailed
from bastion.auth.oidc import GroupRole, OidcClient, OidcConfig, OidcError
from bastion.auth.service import IdentityService
from bastion.auth.sessions import SessionScope
from tests.auth.conftest import OPERATOR
from tests.guard.proxy.conftest import Server

CLIENT_ID, CLIENT_SECRET = "bastion", "client-secret-for-tests"
REDIRECT = "https://bastion.example/auth/callback"


class Provider:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.issuer = ""  # set once the port is known
        self.codes: dict[str, dict[str, Any]] = {}
        self.user: dict[str, Any] = {
            "sub": "u-123",
            "preferred_username": "alice",
            "email": "alice@example.org",
            "groups": ["ml-admins"],
        }
        self.tamper: str | None = None  # "nonce", "audience", "expired", "key"

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/.well-known/openid-configuration", self.discovery),
            Route("/jwks", self.jwks),
            Route("/authorize", self.authorize),
            Route("/token", self.token, methods=["POST"]),
        ])  # fmt: skip

    async def discovery(self, request: Request) -> Response:
        return JSONResponse({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
        })  # fmt: skip

    async def jwks(self, request: Request) -> Response:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return JSONResponse({"keys": [jwk | {"kid": "k1", "use": "sig", "alg": "RS256"}]})

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != CLIENT_ID or q.get("code_challenge_method") != "S256":
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = {"challenge": q["code_challenge"], "nonce": q["nonce"],
                            "redirect_uri": q["redirect_uri"]}  # fmt: skip
        query = urlencode({"code": code, "state": q["state"]})
        return RedirectResponse(f"{q['redirect_uri']}?{query}", status_code=302)

    async def token(self, request: Request) -> Response:
        form = await request.form()
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {basic}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.codes.pop(str(form.get("code")), None)  # a code is redeemed once
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if grant is None or challenge.rstrip(b"=").decode() != grant["challenge"]:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims = self.user | {"iss": self.issuer, "aud": CLIENT_ID, "iat": now,
                              "exp": now + 300, "nonce": grant["nonce"]}  # fmt: skip
        key: Any = self.key
        if self.tamper == "nonce":
            claims["nonce"] = "other"
        elif self.tamper == "audience":
            claims["aud"] = "someone-else"
        elif self.tamper == "expired":
            claims["exp"] = now - 3600
        elif self.tamper == "key":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
        return JSONResponse({"access_token": "at", "token_type": "Bearer", "id_token": token})


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    provider = Provider()
    with Server(provider.app()) as server:
        provider.issuer = server.url
        yield provider


@pytest.fixture
def client(provider: Provider) -> Iterator[OidcClient]:
    provider.tamper = None
    config = OidcConfig(
        issuer=provider.issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT, scopes=("openid", "profile", "email", "groups"),
        group_roles={"ml-admins": (GroupRole(Role.ADMIN),),
                     "team-a": (GroupRole(Role.MAINTAINER, "team-a"),)},
    )  # fmt: skip
    with httpx.Client() as http:
        yield OidcClient(config, http=http)


def browse(client: OidcClient) -> tuple[Any, dict[str, str]]:
    """What a browser does: follow the authorization URL to the provider's redirect."""
    request = client.begin()
    response = httpx.get(request.url, follow_redirects=False)
    assert response.status_code == 302
    location = urlparse(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    return request, {k: v[0] for k, v in parse_qs(location.query).items()}


def test_code_flow_with_pkce_maps_groups_to_roles(client: OidcClient) -> None:
    request, params = browse(client)
    query = parse_qs(urlparse(request.url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert "code_verifier" not in query  # only its hash travels through the browser
    identity = client.finish(request, params)
    assert (identity.subject, identity.username, identity.email) == (
        "u-123", "alice", "alice@example.org"
    )  # fmt: skip
    assert identity.groups == ("ml-admins",)
    assert identity.roles == (GroupRole(Role.ADMIN),)
    assert not identity.mfa


def test_a_code_works_once(client: OidcClient) -> None:
    request, params = browse(client)
    client.finish(request, params)
    with pytest.raises(OidcError, match="400"):
        client.finish(request, params)


def test_a_wrong_verifier_is_refused_by_the_provider(client: OidcClient) -> None:
    request, params = browse(client)
    forged = type(request)(request.url, request.state, request.nonce, "x" * 86, request.created_at)
    with pytest.raises(OidcError, match="400"):
        client.finish(forged, params)


def test_a_foreign_state_is_refused(client: OidcClient) -> None:
    request, params = browse(client)
    with pytest.raises(OidcError, match="state"):
        client.finish(request, params | {"state": "attacker"})
    with pytest.raises(OidcError, match="refused"):
        client.finish(request, {"error": "access_denied", "state": request.state})


@pytest.mark.parametrize(
    ("tamper", "message"),
    [("nonce", "nonce"), ("audience", "(?i)audience"), ("expired", "expired"), ("key", "ignature")],
)
def test_bad_id_tokens_are_refused(
    client: OidcClient, provider: Provider, tamper: str, message: str
) -> None:
    provider.tamper = tamper
    request, params = browse(client)
    with pytest.raises(OidcError, match=message):
        client.finish(request, params)


def test_an_unreachable_or_wrong_provider_is_an_error(provider: Provider) -> None:
    with httpx.Client() as http:
        config = OidcConfig(issuer="http://127.0.0.1:9", client_id="x", redirect_uri=REDIRECT)
        with pytest.raises(OidcError, match="unreachable"):
            OidcClient(config, http=http).begin()
        other = OidcConfig(issuer=provider.issuer + "/", client_id="x", redirect_uri=REDIRECT)
        with pytest.raises(OidcError, match="another issuer"):
            OidcClient(other, http=http).begin()


def test_group_mappings_are_validated() -> None:
    with pytest.raises(ValueError, match="namespace role"):
        OidcConfig(issuer="https://idp", client_id="x", redirect_uri=REDIRECT,
                   group_roles={"g": (GroupRole(Role.READER),)})  # fmt: skip


def test_sso_login_creates_the_user_and_syncs_roles(
    client: OidcClient, provider: Provider, service: IdentityService, audit: MemoryAuditSink
) -> None:
    provider.user = provider.user | {"groups": ["ml-admins", "team-a"], "amr": ["pwd"]}
    issued = service.sso_login(client.finish(*browse(client)), source="203.0.113.5")
    assert issued.session.scope is SessionScope.ENROL_MFA  # admin, no second factor yet
    assert {(g.namespace, g.role) for g in service.get_user("alice").grants} == {
        ("*", Role.ADMIN), ("team-a", Role.MAINTAINER)
    }  # fmt: skip
    with pytest.raises(AuthenticationFailed):
        service.login("alice", "any-password-at-all")  # no usable local password
    service.grant(OPERATOR, "alice", Role.READER, "team-b")  # granted by a person: kept
    provider.user = provider.user | {"groups": ["team-a"], "amr": ["pwd", "mfa"]}
    issued = service.sso_login(client.finish(*browse(client)))
    assert issued.session.scope is SessionScope.FULL
    assert issued.session.mfa  # the provider's second factor counts
    assert {(g.namespace, g.role) for g in service.get_user("alice").grants} == {
        ("team-a", Role.MAINTAINER), ("team-b", Role.READER)
    }  # fmt: skip
    assert ("user.revoke", "sso") in [(e.action, e.actor) for e in audit.events]
    provider.user = provider.user | {"groups": ["ml-admins"], "amr": ["pwd"]}
    service.set_disabled(OPERATOR, "alice", disabled=True)
    with pytest.raises(AuthenticationFailed):
        service.sso_login(client.finish(*browse(client)))
