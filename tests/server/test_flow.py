"""Push, scan, quarantine, release, pull through the app, on both databases."""

from __future__ import annotations

import base64
import hashlib
import pickle

from tests.server.conftest import Env


def _push(
    env: Env, ns: str, model: str, version: str, files: dict[str, bytes], token: str | None = None
) -> dict:
    h = env.headers(token)
    r = env.client.post(
        f"/v1/namespaces/{ns}/uploads", json={"model": model, "version": version}, headers=h
    )
    assert r.status_code == 201, r.text
    upload = r.json()["upload"]
    for path, data in files.items():
        r = env.client.put(
            f"/v1/namespaces/{ns}/uploads/{upload}/files/{path}", content=data, headers=h
        )
        assert r.status_code == 200, r.text
    r = env.client.post(f"/v1/namespaces/{ns}/uploads/{upload}/commit", json={}, headers=h)
    assert r.status_code == 200, r.text
    return r.json()


class Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def test_push_pull_quarantine_release(env: Env) -> None:
    h = env.headers()
    assert env.client.post("/v1/namespaces", json={"name": "team"}, headers=h).status_code == 201
    clean = pickle.dumps({"w": [1.0, 2.0]}, protocol=4)
    info = _push(env, "team", "m", "1.0", {"model.pkl": clean, "sub/cfg.json": b'{"a": 1}'})
    assert info["state"] == "committed", info["state_reason"]
    r = env.client.get("/v1/namespaces/team/models/m/versions/1.0/files/model.pkl", headers=h)
    assert r.status_code == 200
    assert r.content == clean
    digest = base64.b64encode(hashlib.sha256(clean).digest()).decode()
    assert r.headers["repr-digest"] == f"sha-256=:{digest}:"

    bad = pickle.dumps(Evil())
    info = _push(env, "team", "m", "2.0", {"model.pkl": bad})
    assert info["state"] == "quarantined"
    assert "critical" in info["state_reason"]
    r = env.client.get("/v1/namespaces/team/models/m/versions/2.0/files/model.pkl", headers=h)
    assert r.status_code == 409
    r = env.client.post(
        "/v1/namespaces/team/models/m/versions/2.0/release",
        json={"reason": "test fixture"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "released"
    r = env.client.get("/v1/namespaces/team/models/m/versions/2.0/files/model.pkl", headers=h)
    assert r.content == bad
    actions = env.audit.actions()
    for action in (
        "model.upload",
        "model.scan",
        "model.quarantine",
        "model.release",
        "model.download",
    ):
        assert action in actions
    assert env.client.get("/healthz").status_code == 200
    assert env.client.get("/openapi.json").status_code == 401
