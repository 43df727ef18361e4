"""Upload sessions: abandoned ones expire with their blobs; the public API is pinned."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import bastion.client
import bastion.server
from bastion.registry import tables as t
from tests.server.conftest import Env


def _start_upload(env: Env) -> tuple[dict[str, str], str]:
    """The admin's headers and a new upload session for ``team/m:1``."""
    h = env.headers()
    env.client.post("/v1/namespaces", json={"name": "team"}, headers=h)
    upload = env.client.post(
        "/v1/namespaces/team/uploads", json={"model": "m", "version": "1"}, headers=h
    ).json()["upload"]
    return h, upload


def test_abandoned_sessions_are_reaped_with_their_blobs(env: Env) -> None:
    h, upload = _start_upload(env)
    staged = env.client.put(
        f"/v1/namespaces/team/uploads/{upload}/files/a.pkl", content=pickle.dumps(1), headers=h
    )
    assert staged.status_code == 200
    store = env.state.registry.store
    assert len(store.on_disk()) == 1
    with env.state.engine.begin() as conn:
        conn.execute(t.uploads.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    refused = env.client.post(f"/v1/namespaces/team/uploads/{upload}/commit", json={}, headers=h)
    assert refused.status_code == 404
    assert env.state.uploads.reap() == 1
    assert store.on_disk() == set()
    with env.state.engine.connect() as conn:
        assert conn.execute(t.blobs.select()).first() is None


def test_declared_oversize_is_refused_before_reading(env: Env) -> None:
    env.state.registry.max_file_size = 10
    h, upload = _start_upload(env)
    r = env.client.put(
        f"/v1/namespaces/team/uploads/{upload}/files/a.bin", content=b"x" * 11, headers=h
    )
    assert r.status_code == 413
    assert env.state.registry.store.on_disk() == set()
    assert list(env.state.registry.store.tmp.iterdir()) == []


def test_public_api() -> None:
    assert sorted(bastion.client.__all__) == [
        "Client",
        "ClientError",
        "Login",
        "Ref",
        "load_login",
        "save_login",
    ]
    assert sorted(bastion.server.__all__) == ["PUBLIC_PATHS", "ServerState", "create_app"]


def test_start_sweeps_what_a_crash_left(env: Env) -> None:
    from bastion.server.bootstrap import open_state

    store = env.state.registry.store
    stray = store.path("ab" + "0" * 30)
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"left by a crash between rename and insert")
    (store.tmp / "x.part").write_bytes(b"partial")
    (env.state.registry.work_dir / "scan-x").write_bytes(b"plaintext scratch")
    open_state(env.paths, env.state.engine, env.audit)
    assert not stray.exists()
    assert list(store.tmp.iterdir()) == []
    assert list(env.state.registry.work_dir.iterdir()) == []


def test_uploads_are_scanned_without_a_plaintext_copy_on_disk(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scanner reads the sealed blob back through the decrypting reader: the
    # dangerous pickle is still found, and no byte of either file lies on disk in
    # clear, neither while the scanner runs nor after.
    import bastion.scan

    marker = b"plaintext-marker-" + bytes(range(65, 91)) * 4
    data_dir = env.state.registry.store.root.parent

    def on_disk() -> list[Path]:
        files = (p for p in data_dir.rglob("*") if p.is_file())
        return [p for p in files if marker[:40] in p.read_bytes()]

    real = bastion.scan.scan_stream
    seen: list[list[Path]] = []

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(on_disk())
        return real(*args, **kwargs)

    monkeypatch.setattr(bastion.scan, "scan_stream", watched)
    h, upload = _start_upload(env)
    benign = env.client.put(
        f"/v1/namespaces/team/uploads/{upload}/files/benign.pkl",
        content=pickle.dumps(marker * 5000),  # several encryption segments
        headers=h,
    )
    assert benign.status_code == 200
    assert benign.json()["scan"]["max_severity"] is None
    evil = b"cos\nsystem\n(S'" + marker + b"'\ntR."
    bad = env.client.put(
        f"/v1/namespaces/team/uploads/{upload}/files/evil.pkl", content=evil, headers=h
    )
    assert bad.status_code == 200
    assert bad.json()["scan"]["max_severity"] == "critical"
    assert len(env.state.registry.store.on_disk()) == 2
    assert seen == [[], []]
    assert on_disk() == []
