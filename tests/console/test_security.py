"""The console's web security: every route declares a permission, headers on every
response, cookie flags, CSRF on every POST, stored XSS through every stored field."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount

from bastion.audit import AuditEvent, Outcome
from bastion.auth.base import Role
from bastion.auth.rbac import Permission
from bastion.console import PUBLIC_ROUTES, create_console, page_permission
from bastion.console._web import CSP
from tests.console.conftest import PASSWORD, Site, csrf

EVIL_PICKLE = b"cos\nsystem<script>alert(1)</script>\n(S'<img src=x onerror=alert(2)>'\ntR."


def test_every_console_route_declares_a_permission(sqlite_site: Site) -> None:
    app = sqlite_site.client().app.routes  # the server's routes, with the console mounted
    console = next(r for r in app if isinstance(r, Mount) and r.path == "/console")
    declared: dict[tuple[str, str], object] = {}
    for route in console.routes:
        if isinstance(route, Mount):
            assert route.path == "/static"
            continue
        assert isinstance(route, APIRoute)
        permission = page_permission(route)
        if route.path in PUBLIC_ROUTES:
            assert permission is None, f"{route.path} is public but declares {permission}"
            continue
        assert permission is not None, f"{route.methods} {route.path} declares no permission"
        for method in route.methods:
            declared[(method, route.path)] = permission
    assert declared[("POST", "/ns/{namespace}/{model}/{version}/release")] is Permission.RELEASE
    assert declared[("GET", "/audit")] is Permission.AUDIT_READ
    assert declared[("POST", "/tokens")] is Permission.TOKEN_MANAGE
    assert declared[("POST", "/users/{name}/{change}")] is Permission.GLOBAL_GRANT_MANAGE
    assert len(declared) >= 15
    assert create_console  # the app factory the server mounts


INLINE = re.compile(r"<script>|<script [^>]*>[^<]|<style|<[a-z][^>]*\s(style|on\w+)=")
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


def _check_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in HEADERS.items():
        assert headers.get(name) == value, (name, response)


def test_security_headers_on_every_page(sqlite_site: Site) -> None:
    site = sqlite_site
    site.add_user("root", (Role.ADMIN, "*"))
    site.push("team", "bert", "1", {"model.pkl": EVIL_PICKLE})
    assert "script-src 'self'" in CSP
    assert "frame-ancestors 'none'" in CSP
    assert "unsafe-inline" not in CSP
    with site.client() as client:
        anonymous = ["/console/login", "/console/", "/console/static/console.css", "/console/x"]
        for path in anonymous:
            _check_headers(client.get(path))
        token = site.login(client, "root")
        pages = [
            "/",
            "/ns/team",
            "/ns/team/bert",
            "/ns/team/bert/1",
            "/users",
            "/tokens",
            "/audit",
            "/alerts",
            "/firewall",
            "/ns/nope",
            "/static/console.js",
        ]
        for path in pages:
            response = client.get("/console" + path)
            assert response.status_code == (404 if path == "/ns/nope" else 200), path
            _check_headers(response)
            if response.headers["content-type"].startswith("text/html"):
                # no inline script or style anywhere: the CSP would block them
                assert not INLINE.search(response.text), path
        _check_headers(client.post("/console/audit/verify", data={"csrf": token}))


def test_session_cookie_flags(sqlite_site: Site) -> None:
    site = sqlite_site
    site.add_user("root", (Role.ADMIN, "*"))
    with site.client() as client:
        page = client.get("/console/login")
        pre = page.headers["set-cookie"]
        assert pre.startswith("__Host-bastion-login=")
        response = client.post(
            "/console/login",
            data={"csrf": csrf(page.text), "username": "root", "password": PASSWORD},
        )
        ticket = [c for c in response.headers.get_list("set-cookie") if "bastion-mfa" in c]
        assert ticket
        assert "HttpOnly" in ticket[0]
        assert "Secure" in ticket[0]
        page = client.get("/console/login/code")
        response = client.post(
            "/console/login/code",
            data={"csrf": csrf(page.text), "code": site.code(site.secrets["root"])},
        )
        assert response.status_code == 303
        cookie = next(
            c
            for c in response.headers.get_list("set-cookie")
            if c.startswith("__Host-bastion-session=")
        )
        attributes = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
        assert {"secure", "httponly", "samesite", "path"} <= attributes
        assert "domain" not in attributes
        assert "samesite=strict" in cookie.lower()
        assert "path=/" in cookie.lower()
        token = cookie.split(";")[0].split("=", 1)[1]
        # the session token is in no page and no URL
        home = client.get("/console/")
        assert token not in home.text
        assert token not in response.headers["location"]


def test_csrf_missing_wrong_or_foreign_is_refused(sqlite_site: Site) -> None:
    site = sqlite_site
    site.add_user("root", (Role.ADMIN, "*"))
    site.add_user("other", (Role.ADMIN, "*"))
    site.push("team", "bert", "1", {"model.pkl": EVIL_PICKLE})
    url = "/console/ns/team/bert/1/release"
    with site.client() as other_client:
        foreign = site.login(other_client, "other")
    with site.client() as client:
        good = site.login(client, "root")
        for data in (
            {"reason": "ok"},
            {"reason": "ok", "csrf": ""},
            {"reason": "ok", "csrf": "0" * 64},
            {"reason": "ok", "csrf": foreign},
            {"reason": "ok", "csrf": good[:-1] + "é"},
        ):
            response = client.post(url, data=data)
            assert response.status_code == 403, data
            _check_headers(response)
        assert site.state.registry.version_info("team", "bert", "1")["state"] == "quarantined"
        # a JSON body is not a form: refused before anything happens
        assert client.post(url, json={"reason": "ok", "csrf": good}).status_code in (400, 403)
        assert client.post("/console/logout", data={}).status_code == 403
        assert client.post(url, data={"reason": "ok", "csrf": good}).status_code == 303
    assert site.state.registry.version_info("team", "bert", "1")["state"] == "released"
    refused = [e for e in site.memory.events if e.action == "console.csrf"]
    assert len(refused) >= 6
    assert all(e.outcome is Outcome.DENIED for e in refused)


def test_login_form_needs_its_csrf_token(sqlite_site: Site) -> None:
    site = sqlite_site
    site.add_user("plain", mfa=False)
    with site.client() as client:
        client.get("/console/login")
        response = client.post("/console/login", data={"username": "plain", "password": PASSWORD})
        assert response.status_code == 403
        assert "__Host-bastion-session" not in response.headers.get("set-cookie", "")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=300),
    kind=st.sampled_from(
        ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"]
    ),
)
def test_any_form_body_is_answered_without_a_server_error(
    sqlite_site: Site, body: bytes, kind: str
) -> None:
    with sqlite_site.client() as client:
        client.get("/console/login")
        response = client.post("/console/login", content=body, headers={"content-type": kind})
        assert response.status_code in (400, 403)
        _check_headers(response)


def test_stored_xss_is_escaped_everywhere(sqlite_site: Site) -> None:
    """Payloads through a scan finding (a pickle's global and arguments), a file name, a
    release reason, audit fields (actor, resource, reason, details), a firewall event and a
    token name attempt; none comes back as markup."""
    site = sqlite_site
    site.add_user("root", (Role.ADMIN, "*"))
    payload = "<script>alert(3)</script>"
    site.push(
        "team",
        "bert",
        "1",
        {
            "model.pkl": EVIL_PICKLE,
            "notes & 'x'.pkl": b"cos\nsystem\n(S'" + payload.encode() + b"'\ntR.",
        },
    )
    site.state.audit.emit(
        AuditEvent(
            action="guard.block",
            actor=f"token:{payload}",
            outcome=Outcome.DENIED,
            resource=payload,
            reason=payload,
            details={"rule": payload, "prompt": payload},
        )
    )
    with site.client() as client:
        token = site.login(client, "root")
        client.post("/console/login", data={"csrf": "x", "username": payload, "password": "x"})
        release = client.post(
            "/console/ns/team/bert/1/release",
            data={"csrf": token, "reason": '<img src=x onerror="alert(4)">'},
        )
        assert release.status_code == 303
        made = client.post(
            "/console/tokens", data={"csrf": token, "name": payload, "scope": "reader"}
        )
        assert made.status_code == 400
        site.flush()
        pages = {
            p: client.get("/console" + p).text
            for p in ("/ns/team/bert/1", "/audit", "/firewall", "/audit?resource=" + payload)
        }
    for path, html in pages.items():
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "onerror=alert(2)" not in html.replace("onerror=alert(2)&gt;", ""), path
    version = pages["/ns/team/bert/1"]
    assert "os.system&lt;script&gt;alert(1)&lt;/script&gt;" in version
    assert "notes &amp; &#39;x&#39;.pkl" in version
    assert "&lt;img src=x onerror=&#34;alert(4)&#34;&gt;" in version
    assert "&lt;img src=x onerror=&#34;alert(4)&#34;&gt;" in pages["/audit"]
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in pages["/firewall"]
    assert made.text.count("&lt;script&gt;") <= 1
    assert "<script>alert" not in made.text
