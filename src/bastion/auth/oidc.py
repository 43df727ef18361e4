"""Single sign-on by OpenID Connect: the authorization code flow with PKCE (RFC 7636),
and a mapping from the provider's groups to Bastion roles.

    client = OidcClient(config, http=httpx.Client())
    request = client.begin()            # keep request server-side (state, nonce, verifier)
    ... redirect the browser to request.url; the provider redirects back with code and state
    identity = client.finish(request, callback_params)

The ID token's signature is checked against the provider's JWKS (RS256, ES256 or EdDSA
only), and its issuer, audience, expiry and nonce; ``state`` is compared in constant time.
Network errors, bad JSON and bad tokens all raise :class:`OidcError`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from bastion.auth.base import Role
from bastion.auth.errors import AuthError
from bastion.auth.user_grants import GLOBAL, validate

ALGORITHMS = ("RS256", "ES256", "EdDSA")
_MAX_RESPONSE = 1 << 20


class OidcError(AuthError):
    hint = "Check the identity provider's settings (issuer, client id, redirect URI)."


@dataclass(frozen=True, slots=True)
class GroupRole:
    role: Role
    namespace: str = GLOBAL


@dataclass(frozen=True, slots=True, kw_only=True)
class OidcConfig:
    issuer: str
    client_id: str
    redirect_uri: str
    client_secret: str | None = None  # None: a public client (PKCE alone)
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    group_roles: Mapping[str, tuple[GroupRole, ...]] = field(default_factory=dict)
    leeway_seconds: int = 60

    def __post_init__(self) -> None:
        for roles in self.group_roles.values():
            for gr in roles:
                validate(gr.role, gr.namespace)


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """One login in progress. Keep it server-side, keyed by ``state``; never in the URL."""

    url: str
    state: str
    nonce: str
    code_verifier: str
    created_at: float


@dataclass(frozen=True, slots=True)
class OidcIdentity:
    subject: str
    username: str
    email: str | None
    groups: tuple[str, ...]
    roles: tuple[GroupRole, ...]  # from the group mapping, in mapping order
    mfa: bool  # the provider says a second factor was used (amr claim)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcClient:
    def __init__(
        self, config: OidcConfig, *, http: httpx.Client, clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self._http = http
        self._clock = clock
        self._metadata: dict[str, Any] | None = None

    def _get_json(self, url: str, **kwargs: Any) -> dict[str, Any]:
        method = "POST" if "data" in kwargs else "GET"
        try:
            response = self._http.request(method, url, timeout=10.0, **kwargs)
        except httpx.HTTPError as exc:
            raise OidcError(f"identity provider unreachable: {exc}") from exc
        if len(response.content) > _MAX_RESPONSE:
            raise OidcError("identity provider response too large")
        if response.status_code != 200:
            raise OidcError(f"identity provider answered {response.status_code} for {url}")
        try:
            data = response.json()
        except ValueError as exc:
            raise OidcError("identity provider sent invalid JSON") from exc
        if not isinstance(data, dict):
            raise OidcError("identity provider sent JSON that is not an object")
        return data

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, fetched once."""
        if self._metadata is None:
            issuer = self.config.issuer.rstrip("/")
            meta = self._get_json(f"{issuer}/.well-known/openid-configuration")
            if meta.get("issuer") != self.config.issuer:
                raise OidcError("discovery document names another issuer")
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(meta.get(key), str):
                    raise OidcError(f"discovery document lacks {key}")
            methods = meta.get("code_challenge_methods_supported", ["S256"])
            if "S256" not in methods:
                raise OidcError("the provider does not support PKCE with S256")
            self._metadata = meta
        return self._metadata

    def begin(self) -> AuthRequest:
        """A fresh authorization request: state, nonce and PKCE verifier (S256)."""
        meta = self.metadata()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
        query = urlencode({
            "response_type": "code",
            "client_id": self.config.client_id,
            "redirect_uri": self.config.redirect_uri,
            "scope": " ".join(self.config.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": _s256(verifier),
            "code_challenge_method": "S256",
        })  # fmt: skip
        url = f"{meta['authorization_endpoint']}?{query}"
        return AuthRequest(url, state, nonce, verifier, self._clock())

    def finish(self, request: AuthRequest, params: Mapping[str, str]) -> OidcIdentity:
        """Check the callback, redeem the code, verify the ID token, map groups to roles."""
        if "error" in params:
            raise OidcError(f"identity provider refused the login: {params['error'][:200]}")
        state, code = params.get("state", ""), params.get("code", "")
        if not hmac.compare_digest(state.encode(), request.state.encode()):
            raise OidcError("state does not match this login: start again")
        if not code or self._clock() - request.created_at > 600:
            raise OidcError("missing code, or the login took longer than 10 minutes")
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "client_id": self.config.client_id,
            "code_verifier": request.code_verifier,
        }
        auth = None
        if self.config.client_secret is not None:
            auth = (self.config.client_id, self.config.client_secret)
        tokens = self._get_json(self.metadata()["token_endpoint"], data=data, auth=auth)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("token response has no id_token")
        return self._identity(self._verify(id_token, nonce=request.nonce))

    def _verify(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(id_token)
            jwks = jwt.PyJWKSet.from_dict(self._get_json(self.metadata()["jwks_uri"]))
            keys = [k for k in jwks.keys if k.key_id == header.get("kid")] or jwks.keys
            if header.get("alg") not in ALGORITHMS or len(keys) != 1:
                raise OidcError("ID token: unsupported algorithm or no single matching key")
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=keys[0].key,
                algorithms=list(ALGORITHMS),
                audience=self.config.client_id,
                issuer=self.config.issuer,
                leeway=self.config.leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise OidcError(f"ID token rejected: {exc}") from exc
        if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), nonce.encode()):
            raise OidcError("ID token nonce does not match this login")
        return claims

    def _identity(self, claims: Mapping[str, Any]) -> OidcIdentity:
        groups_raw = claims.get(self.config.groups_claim, [])
        groups = tuple(g for g in groups_raw if isinstance(g, str)) if isinstance(
            groups_raw, list) else ()  # fmt: skip
        roles: list[GroupRole] = []
        for group in groups:
            for gr in self.config.group_roles.get(group, ()):
                if gr not in roles:
                    roles.append(gr)
        amr = claims.get("amr", [])
        username = claims.get(self.config.username_claim) or claims["sub"]
        return OidcIdentity(
            subject=str(claims["sub"]),
            username=str(username),
            email=claims.get("email") if isinstance(claims.get("email"), str) else None,
            groups=groups,
            roles=tuple(roles),
            mfa=isinstance(amr, list) and bool({"mfa", "otp", "hwk", "swk"} & set(map(str, amr))),
        )
