"""`bastion guard serve` end to end: a real process, a real port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bastion.guard.proxy import generate_key

BASTION = [sys.executable, "-c", "from bastion.cli.main import main; main()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(base: str) -> None:
    """Until the server answers /healthz (20 s at most; the checks that follow fail if not)."""
    for _ in range(200):
        try:
            if httpx.get(base + "/healthz").status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)


def test_serve_starts_and_denies_without_a_key(tmp_path: Path) -> None:
    key, digest = generate_key()
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"id": "t", "sha256": digest}]}))
    port = _free_port()
    cmd = [*BASTION, "guard", "serve", "--upstream", "http://127.0.0.1:9/v1",
           "--keys", str(keys), "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base)
        denied = httpx.get(base + "/v1/models")
        assert denied.status_code == 401
        assert denied.json()["error"]["code"] == "invalid_api_key"
        down = httpx.get(base + "/v1/models", headers={"authorization": f"Bearer {key}"})
        assert down.status_code == 502  # nothing listens upstream: a clear error, not a hang
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_with_a_bad_key_file_is_exit_2(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text("{}")
    cmd = [*BASTION, "guard", "serve", "--upstream", "http://127.0.0.1:9/v1", "--keys", str(keys)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "key file" in done.stderr


def test_serve_writes_extraction_state_to_redis_and_opens_the_audit_log(tmp_path: Path) -> None:
    import uuid

    key, digest = generate_key()
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"id": "t", "sha256": digest}]}))
    port, db = _free_port(), tmp_path / "audit.db"
    cmd = [*BASTION, "guard", "serve", "--upstream", "http://127.0.0.1:9/v1", "--keys", str(keys),
           "--port", str(port), "--redis-url", "redis://127.0.0.1:6379/0",
           "--audit-db", f"sqlite:///{db}", "--audit-key", str(tmp_path / "audit.key")]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    r = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base)
        prompt = f"What does json.loads do? {uuid.uuid4().hex}"
        body = {"model": "m", "messages": [{"role": "user", "content": prompt}]}
        auth = {"authorization": f"Bearer {key}"}
        out = httpx.post(base + "/v1/chat/completions", headers=auth, json=body)
        assert out.status_code == 502  # scored, then nothing upstream
        assert r.exists("bastion:guard:x:c:key:t")
        assert (tmp_path / "audit.key").exists()
        assert db.exists()
    finally:
        proc.terminate()
        proc.wait(10)
        r.delete("bastion:guard:x:c:key:t", "bastion:guard:x:c:addr:127.0.0.1",
                 "bastion:guard:x:population")  # fmt: skip
        r.close()
