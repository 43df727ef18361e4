"""Users log in over the API too: POST /v1/auth/login gives a session token (bss_...) that
works as a bearer credential until it expires, the user logs out or a credential changes.
Beside the console tests, whose server state has identity and a clock the test moves."""

from __future__ import annotations

from fastapi.testclient import TestClient

from bastion.auth.base import Role
from bastion.auth.service import Operator

from .conftest import PASSWORD, Site


def _login(client: TestClient, user: str, password: str = PASSWORD, code: str | None = None):
    return client.post("/v1/auth/login", json={"user": user, "password": password, "code": code})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_session_is_a_bearer_credential_until_logout(site: Site) -> None:
    site.add_user("alice", (Role.READER, "team"), mfa=False)
    client = site.client()
    answer = _login(client, "alice")
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    assert token.startswith("bss_")
    assert answer.json()["scope"] == "full"
    me = client.get("/v1/whoami", headers=_bearer(token)).json()
    assert me["principal"] == "user:alice"
    assert me["namespace_roles"] == {"team": "reader"}
    assert client.get("/v1/namespaces/team/models", headers=_bearer(token)).status_code == 200
    denied = client.post("/v1/namespaces", json={"name": "x"}, headers=_bearer(token))
    assert denied.status_code == 403
    assert client.post("/v1/auth/logout", headers=_bearer(token)).status_code == 204
    assert client.get("/v1/whoami", headers=_bearer(token)).status_code == 401


def test_mfa_needs_the_code_and_a_code_works_once(site: Site) -> None:
    site.add_user("bob", (Role.READER, "team"))
    client = site.client()
    first = _login(client, "bob")
    assert first.status_code == 401
    assert first.json()["error"] == "MfaRequired"
    assert "ticket" not in first.text
    code = site.code(site.secrets["bob"])
    ok = _login(client, "bob", code=code)
    assert ok.status_code == 200, ok.text
    assert ok.json()["mfa"] is True
    replay = _login(client, "bob", code=code)
    assert replay.status_code == 401
    assert replay.json()["error"] == "AuthenticationFailed"


def test_wrong_password_and_unknown_user_look_the_same_then_throttle(site: Site) -> None:
    site.add_user("carol", mfa=False)
    client = site.client()
    wrong = _login(client, "carol", "not the password at all")
    unknown = _login(client, "nobody-here", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    statuses = [_login(client, "carol", "still not it, no").status_code for _ in range(12)]
    assert statuses[0] == 401
    assert 429 in statuses
    throttled = _login(client, "carol")  # while throttled, even the right password waits
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) >= 1


def test_a_session_still_waiting_for_mfa_enrolment_opens_nothing(site: Site) -> None:
    site.add_user("dave", (Role.ADMIN, "*"), mfa=False)  # admins must have MFA
    client = site.client()
    answer = _login(client, "dave")
    assert answer.status_code == 200
    assert answer.json()["scope"] == "enrol-mfa"
    token = answer.json()["token"]
    assert client.get("/v1/whoami", headers=_bearer(token)).status_code == 401


def test_a_password_change_ends_api_sessions(site: Site) -> None:
    site.add_user("erin", (Role.READER, "team"), mfa=False)
    client = site.client()
    token = _login(client, "erin").json()["token"]
    assert client.get("/v1/whoami", headers=_bearer(token)).status_code == 200
    site.identity.set_password(Operator(), "erin", "a different long passphrase 9")
    assert client.get("/v1/whoami", headers=_bearer(token)).status_code == 401


def test_an_api_token_does_not_log_out(site: Site) -> None:
    client = site.client()
    response = client.post("/v1/auth/logout", headers=_bearer(site.admin_token))
    assert response.status_code == 400


def test_users_over_the_api_with_the_first_admin_token(site: Site) -> None:
    client = site.client()
    admin = _bearer(site.admin_token)  # token:admin, made admin in the API's grant store
    made = client.post("/v1/users", json={"user": "x"}, headers=admin)
    assert made.status_code == 422
    made = client.post("/v1/users", json={"name": "frank", "password": PASSWORD}, headers=admin)
    assert made.status_code == 201, made.text
    assert made.json()["roles"] == []
    again = client.post("/v1/users", json={"name": "frank", "password": PASSWORD}, headers=admin)
    assert again.status_code == 409
    weak_body = {"name": "gina", "password": "password1234"}
    weak = client.post("/v1/users", json=weak_body, headers=admin)
    assert weak.status_code == 400
    grant = {"principal": "user:frank", "role": "reader"}
    assert client.put("/v1/namespaces/team/grants", json=grant, headers=admin).is_success
    token = _login(client, "frank").json()["token"]
    assert client.get("/v1/auth/sessions", headers=_bearer(token)).json()["sessions"]
    assert client.get("/v1/users/frank/sessions", headers=admin).json()["sessions"]
    assert client.get("/v1/users/frank/sessions", headers=_bearer(token)).status_code == 403
    assert client.get("/v1/users", headers=_bearer(token)).status_code == 403  # not an admin
    names = [u["name"] for u in client.get("/v1/users", headers=admin).json()["users"]]
    assert "frank" in names
    assert client.post("/v1/users/frank/disable", headers=admin).status_code == 204
    assert client.get("/v1/whoami", headers=_bearer(token)).status_code == 401  # sessions end
    assert _login(client, "frank").status_code == 401
    assert client.post("/v1/users/frank/enable", headers=admin).status_code == 204
    assert client.post("/v1/users/nobody/reset-mfa", headers=admin).status_code == 404
    assert client.delete("/v1/users/frank", headers=admin).status_code == 204
    done = {(e.action, e.actor) for e in site.memory.events if e.resource == "user:frank"}
    for action in ("user.create", "user.disable", "user.enable", "user.delete"):
        assert (action, "token:admin") in done, action


def test_a_global_admin_granted_over_the_api_must_use_mfa(site: Site) -> None:
    client = site.client()
    admin = _bearer(site.admin_token)
    assert (
        client.post(
            "/v1/users", json={"name": "hank", "password": PASSWORD}, headers=admin
        ).status_code
        == 201
    )
    before = _login(client, "hank").json()["token"]  # no role yet: no MFA needed
    assert client.get("/v1/whoami", headers=_bearer(before)).status_code == 200
    assert client.put(
        "/v1/grants", json={"principal": "user:hank", "role": "auditor"}, headers=admin
    ).is_success
    assert client.get("/v1/whoami", headers=_bearer(before)).status_code == 401  # ended
    answer = _login(client, "hank")
    assert answer.json()["scope"] == "enrol-mfa"  # the API's grant counts for MFA too
    assert client.get("/v1/users", headers=_bearer(answer.json()["token"])).status_code == 401


def test_grant_listings_show_both_stores_and_revoke_removes_either(site: Site) -> None:
    """A role given with `bastion users grant` counts for access, so the API lists it too
    (source "users") and revokes it; roles given over /v1/grants show source "api"."""
    site.add_user("ivy", (Role.PUBLISHER, "team"), mfa=False)
    client = site.client()
    admin = _bearer(site.admin_token)
    grant = {"principal": "user:jon", "role": "reader"}
    assert client.put("/v1/namespaces/team/grants", json=grant, headers=admin).is_success
    listed = client.get("/v1/namespaces/team/grants", headers=admin).json()["grants"]
    assert {"principal": "user:ivy", "role": "publisher", "source": "users"} in listed
    assert {"principal": "user:jon", "role": "reader", "source": "api"} in listed
    globals_ = client.get("/v1/grants", headers=admin).json()["grants"]
    assert {"principal": "token:admin", "role": "admin", "source": "api"} in globals_
    assert all(g["principal"] != "user:ivy" for g in globals_)  # a namespace role only
    gone = client.delete(
        "/v1/namespaces/team/grants",
        params={"principal": "user:ivy", "role": "publisher"},
        headers=admin,
    )
    assert gone.status_code == 204
    listed = client.get("/v1/namespaces/team/grants", headers=admin).json()["grants"]
    assert all(g["principal"] != "user:ivy" for g in listed)
    token = _login(client, "ivy").json()["token"]
    assert client.get("/v1/whoami", headers=_bearer(token)).json()["namespace_roles"] == {}
