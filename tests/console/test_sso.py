"""Single sign-on in the console against a small OpenID Connect provider on a real port."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from fastapi.testclient import TestClient

from bastion.auth.base import Role
from bastion.auth.oidc import OidcClient
from bastion.config import Settings, SsoSettings
from bastion.errors import ConfigError
from bastion.server import create_app
from bastion.server.bootstrap import open_sso
from tests.auth.test_oidc import CLIENT_ID, CLIENT_SECRET, Provider
from tests.console.conftest import BASE, Site, csrf, make_site
from tests.guard.proxy.conftest import Server

CALLBACK = f"{BASE}/console/login/sso/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    provider = Provider()
    with Server(provider.app()) as server:
        provider.issuer = server.url
        yield provider


def _sso(provider: Provider) -> OidcClient:
    client = open_sso(
        SsoSettings(
            issuer=provider.issuer,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            redirect_uri=CALLBACK,
            scopes=("openid", "profile", "groups"),
            group_roles={"ml-admins": ("admin",), "team-a": ("maintainer@team",)},
        )
    )
    assert client is not None
    return client


@pytest.fixture
def sso_site(provider: Provider, tmp_path: Path) -> Iterator[tuple[Site, TestClient]]:
    provider.tamper = None
    provider.user = {"sub": "u-1", "preferred_username": "sam", "groups": ["team-a"]}
    site = make_site(f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "data")
    site.state = dataclasses.replace(site.state, sso=_sso(provider))
    client = TestClient(create_app(site.state), base_url=BASE, follow_redirects=False)
    try:
        with client:
            yield site, client
    finally:
        site.log.close()
        site.state.engine.dispose()


def _to_provider_and_back(client: TestClient) -> httpx.Response:
    """What a browser does: start, follow the provider's redirect, land on the callback."""
    start = client.get("/console/login/sso")
    assert start.status_code == 303
    sso_cookie = next(c for c in start.headers.get_list("set-cookie") if "bastion-sso=" in c)
    assert "samesite=lax" in sso_cookie.lower()
    assert "httponly" in sso_cookie.lower()
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_provider.status_code == 302
    back = urlparse(at_provider.headers["location"])
    return client.get(f"{back.path}?{back.query}")


def test_sso_login_creates_the_user_with_mapped_roles(sso_site: tuple[Site, TestClient]) -> None:
    site, client = sso_site
    assert "Log in with single sign-on" in client.get("/console/login").text
    landed = _to_provider_and_back(client)
    assert landed.status_code == 200
    assert 'http-equiv="refresh" content="0;url=/console/"' in landed.text
    session = next(c for c in landed.headers.get_list("set-cookie") if "bastion-session=" in c)
    assert "samesite=strict" in session.lower()
    home = client.get("/console/")
    assert home.status_code == 200
    assert 'href="/console/ns/team"' in home.text
    user = site.identity.get_user("sam")
    assert [(g.role, g.namespace) for g in user.grants] == [(Role.MAINTAINER, "team")]
    login = [e for e in site.memory.events if e.action == "auth.login"][-1]
    assert login.details["method"] == "oidc"


def test_sso_callback_without_its_cookie_or_with_a_bad_token_fails(
    sso_site: tuple[Site, TestClient], provider: Provider
) -> None:
    _site, client = sso_site
    forged = client.get("/console/login/sso/callback?code=x&state=y")
    assert forged.status_code == 401
    assert "not started here" in forged.text
    provider.tamper = "nonce"
    landed = _to_provider_and_back(client)
    assert landed.status_code == 401
    assert "nonce" in landed.text
    assert client.get("/console/").status_code == 303


def test_sso_user_with_local_totp_gives_a_code(sso_site: tuple[Site, TestClient]) -> None:
    site, client = sso_site
    site.add_user("sam", (Role.READER, "team"))  # local TOTP; the provider reports no MFA
    landed = _to_provider_and_back(client)
    assert 'content="0;url=/console/login/code"' in landed.text
    page = client.get("/console/login/code")
    done = client.post(
        "/console/login/code",
        data={"csrf": csrf(page.text), "code": site.code(site.secrets["sam"])},
    )
    assert done.status_code == 303
    assert client.get("/console/").status_code == 200


def test_without_sso_the_routes_say_so(site: Site) -> None:
    with site.client() as client:
        assert "single sign-on" not in client.get("/console/login").text
        missing = client.get("/console/login/sso")
        assert missing.status_code == 404
        assert "not configured" in missing.text


def test_sso_settings_are_read_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "bastion.toml"
    path.write_text(
        '[sso]\nissuer = "https://id.example"\nclient_id = "bastion"\n'
        'redirect_uri = "https://bastion.example:8443/console/login/sso/callback"\n'
        '[sso.group_roles]\nml-admins = ["admin"]\nteam-a = ["maintainer@team-a"]\n'
    )
    settings = Settings.load(path, environ={"BASTION_SSO_CLIENT_SECRET": "s3cret"})
    assert settings.sso.enabled
    assert settings.sso.client_secret == "s3cret"  # noqa: S105
    assert "s3cret" not in repr(settings.sso)
    client = open_sso(settings.sso)
    assert client is not None
    assert client.config.group_roles["team-a"][0].namespace == "team-a"
    assert open_sso(Settings().sso) is None
    with pytest.raises(ConfigError):
        open_sso(dataclasses.replace(settings.sso, group_roles={"g": ("auditor@team",)}))
    path.write_text(
        '[sso]\nissuer = "https://id.example"\nclient_id = "b"\nredirect_uri = "http://x"\n'
    )
    with pytest.raises(ConfigError):
        Settings.load(path, environ={})
