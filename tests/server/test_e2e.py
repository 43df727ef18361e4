"""End to end: the real server (uvicorn, TLS with its generated certificate) and the real
client, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import pickle
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bastion.auth.base import Role
from bastion.client import ClientError
from bastion.errors import VerificationError
from bastion.registry import tables as t
from tests.server.conftest import Live


class Evil:
    def __reduce__(self):
        import os

        return (os.system, ("echo pwned",))


def _model(folder: Path, payload: object) -> Path:
    folder.mkdir(parents=True)
    (folder / "model.pkl").write_bytes(pickle.dumps(payload, protocol=4))
    (folder / "config").mkdir()
    (folder / "config" / "config.json").write_text('{"layers": 2}')
    return folder


def _blob_files(live: Live) -> set[str]:
    return live.state.registry.store.on_disk()


def test_push_scan_quarantine_release_pull(live: Live, tmp_path: Path) -> None:
    info = live.admin.push(_model(tmp_path / "good", {"w": [1, 2]}), "team/clf:1.0")
    assert info["state"] == "committed"
    assert [f["path"] for f in info["files"]] == ["config/config.json", "model.pkl"]
    written = live.admin.pull("team/clf:1.0", tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "config/config.json",
        "model.pkl",
    ]
    assert (tmp_path / "out" / "model.pkl").read_bytes() == (
        tmp_path / "good" / "model.pkl"
    ).read_bytes()

    bad = live.admin.push(_model(tmp_path / "bad", Evil()), "team/clf:2.0")
    assert bad["state"] == "quarantined"
    assert bad["scan_report"]["max_severity"] == "critical"
    with pytest.raises(ClientError) as refused:
        live.admin.pull("team/clf:2.0", tmp_path / "out2")
    assert refused.value.status == 409
    assert not (tmp_path / "out2" / "model.pkl").exists()
    released = live.admin.release("team/clf:2.0", "known test fixture")
    assert released["state"] == "released"
    live.admin.pull("team/clf:2.0", tmp_path / "out2")
    assert "model.release" in live.audit.actions()
    with pytest.raises(ClientError):
        live.admin.push(tmp_path / "good", "team/clf:1.0")  # versions are immutable


def test_tampered_blob_on_disk_is_never_served(live: Live, tmp_path: Path) -> None:
    live.admin.push(_model(tmp_path / "m", {"w": list(range(1000))}), "team/clf:1")
    for blob_id in _blob_files(live):
        path = live.state.registry.store.path(blob_id)
        data = bytearray(path.read_bytes())
        data[-20] ^= 0x01
        path.write_bytes(bytes(data))
    with pytest.raises((ClientError, VerificationError)):
        live.admin.pull("team/clf:1", tmp_path / "out")
    assert not (tmp_path / "out" / "model.pkl").exists()
    assert not (tmp_path / "out" / "config" / "config.json").exists()
    alerts = [e for e in live.audit.events if e.action == "blob.integrity"]
    assert alerts
    assert alerts[0].details["alert"] is True


def test_wrong_role_is_refused(live: Live, tmp_path: Path) -> None:
    live.admin.push(_model(tmp_path / "m", {"w": 1}), "team/clf:1")
    reader = live.client(live.token("reader", Role.READER, "team"))
    nobody = live.client(live.token("nobody", None))
    with pytest.raises(ClientError) as denied:
        reader.push(tmp_path / "m", "team/clf:2")
    assert denied.value.status == 403
    reader.pull("team/clf:1", tmp_path / "out")
    with pytest.raises(ClientError) as denied:
        nobody.pull("team/clf:1", tmp_path / "out3")
    assert denied.value.status == 403
    assert nobody.namespaces() == []
    assert reader.namespaces() == ["team"]
    denials = [e for e in live.audit.events if e.action == "access.denied"]
    assert {e.actor for e in denials} == {"token:reader", "token:nobody"}


def test_expired_and_malformed_tokens_are_refused(live: Live) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    expired = live.client(live.token("old", Role.ADMIN, "team", now=past, ttl=timedelta(days=1)))
    with pytest.raises(ClientError) as refused:
        expired.whoami()
    assert refused.value.status == 401
    for bad in ("", "bst_x", "bst_000000000000_" + "A" * 43):
        with pytest.raises(ClientError) as refused:
            live.client(bad or "nothing").whoami()
        assert refused.value.status == 401


def test_interrupted_and_oversized_uploads_leave_nothing(live: Live, tmp_path: Path) -> None:
    before = _blob_files(live)
    big = tmp_path / "big"
    big.mkdir()
    (big / "weights.bin").write_bytes(b"\0" * (9 << 20))  # over the 8 MiB test limit
    with pytest.raises(ClientError) as refused:
        live.admin.push(big, "team/big:1")
    assert refused.value.status == 413

    # A body that stops half way: the connection drops mid-upload.
    headers = {"Authorization": live.admin._http.headers["authorization"]}
    tls = ssl.create_default_context(cafile=str(live.paths.cert))
    with httpx.Client(base_url=live.url, verify=tls, headers=headers) as http:
        upload = http.post(
            "/v1/namespaces/team/uploads", json={"model": "cut", "version": "1"}
        ).json()["upload"]

        def body() -> Iterator[bytes]:
            yield b"\x80\x04" + b"x" * (1 << 20)
            raise ConnectionResetError("client went away")

        with pytest.raises((ConnectionResetError, httpx.HTTPError)):
            http.put(
                f"/v1/namespaces/team/uploads/{upload}/files/model.pkl",
                content=body(),
                headers={"Content-Length": str(4 << 20)},
            )
        http.delete(f"/v1/namespaces/team/uploads/{upload}")
    _settle(live)
    assert _blob_files(live) == before
    assert list(live.state.registry.store.tmp.iterdir()) == []
    assert list(live.state.registry.work_dir.iterdir()) == []
    with live.state.engine.connect() as conn:
        assert conn.execute(t.uploads.select()).first() is None
        assert conn.execute(t.upload_files.select()).first() is None
        assert conn.execute(t.versions.select()).first() is None
    assert live.admin.models("team") == []


def _settle(live: Live) -> None:
    """The server notices a dropped connection asynchronously; wait until it has cleaned up."""
    for _ in range(200):
        if not list(live.state.registry.store.tmp.iterdir()) and not list(
            live.state.registry.work_dir.iterdir()
        ):
            return
        threading.Event().wait(0.05)


@pytest.mark.parametrize("through", ["http.client", "httpx"])
def test_pull_reads_bodies_whole_on_either_path(
    live: Live, tmp_path: Path, through: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Downloads read the body with http.client, or with httpx when a transport or a proxy
    is configured; both write the same bytes, quote names that need it, and refuse a blob
    that fails verification."""
    model = _model(tmp_path / "m", {"w": list(range(5000))})
    (model / "sub dir").mkdir()
    big = json.dumps({"w": list(range(900_000))}).encode()  # several 1 MiB segments
    assert len(big) > 6 * 1024 * 1024
    (model / "sub dir" / "wéights 1%.json").write_bytes(big)
    live.admin.push(model, "team/clf:1")
    if through == "httpx":
        with monkeypatch.context() as env:  # a proxy in the environment: only httpx uses it
            env.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
            assert not live.client(live.token("proxied", None))._direct
        context = ssl.create_default_context(cafile=str(live.paths.cert))
        token = live.token("puller", Role.READER, "team")
        from bastion.client import Client

        client = Client(live.url, token, transport=httpx.HTTPTransport(verify=context))
        live.clients.append(client)
        assert not client._direct
    else:
        client = live.admin
        assert client._direct
    written = client.pull("team/clf:1", tmp_path / "out")
    assert (tmp_path / "out" / "sub dir" / "wéights 1%.json").read_bytes() == big
    assert (tmp_path / "out" / "model.pkl").read_bytes() == (model / "model.pkl").read_bytes()
    assert len(written) == 3
    # Only the big blob, past its first segment: the server has sent a 200 and its first
    # MiB when verification fails, and the client sees the body cut short.
    paths = [live.state.registry.store.path(b) for b in _blob_files(live)]
    path = max(paths, key=lambda p: p.stat().st_size)
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01  # in the last segment
    path.write_bytes(bytes(data))
    with pytest.raises(ClientError, match=r"download of sub dir/wéights 1%\.json failed"):
        client.pull("team/clf:1", tmp_path / "out2")
    assert not any(p.is_file() for p in (tmp_path / "out2").rglob("*"))
