"""`bastion up` as a newcomer runs it: a child process, TLS on, token printed once."""

from __future__ import annotations

import os
import re
import socket
import ssl
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bastion.client import Client

ROOT = Path(__file__).resolve().parents[2]


def _start(data: Path, port: int, *extra: str) -> tuple[subprocess.Popen[str], list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONUNBUFFERED": "1"}
    env.pop("BASTION_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bastion.cli.main import main; main()",
            "up",
            "--data-dir",
            str(data),
            "--port",
            str(port),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        lines.append(line)
        if "Uvicorn running" in line or time.monotonic() > deadline:
            break
    return proc, lines


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    proc.wait(30)
    if proc.stdout is not None:
        proc.stdout.close()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_first_start_then_second_start(tmp_path: Path) -> None:
    data, port = tmp_path / "bastion", _port()
    proc, lines = _start(data, port)
    try:
        text = "".join(lines)
        token = re.search(r"(bst_[0-9a-f]{12}_[A-Za-z0-9_-]{43})", text)
        assert token is not None, text
        assert f"bastion login https://127.0.0.1:{port} --ca-cert {data}/tls/cert.pem" in text
        assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(data / "kek.json").st_mode) == 0o600
        assert stat.S_IMODE(os.stat(data / "tls" / "key.pem").st_mode) == 0o600
        with Client(f"https://127.0.0.1:{port}", token[1], ca_cert=data / "tls" / "cert.pem") as c:
            assert c.whoami()["global_roles"] == ["admin"]
        with pytest.raises(httpx.ConnectError):  # the certificate is not trusted by default
            httpx.get(f"https://127.0.0.1:{port}/healthz")
        with pytest.raises(httpx.HTTPError):  # plain HTTP is refused, not redirected
            httpx.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        _stop(proc)
    proc, lines = _start(data, port)
    try:
        assert "bst_" not in "".join(lines)  # the first admin is made once
    finally:
        _stop(proc)


@pytest.mark.slow
def test_what_the_server_did_is_in_the_verifiable_audit_log(tmp_path: Path) -> None:
    data, port = tmp_path / "bastion", _port()
    proc, lines = _start(data, port)
    try:
        token = re.search(r"(bst_[0-9a-f]{12}_[A-Za-z0-9_-]{43})", "".join(lines))
        assert token is not None
        cert = ssl.create_default_context(cafile=str(data / "tls" / "cert.pem"))
        url = f"https://127.0.0.1:{port}/metrics"
        assert httpx.get(url, verify=cert).status_code == 401  # metrics need credentials
        metrics = httpx.get(url, verify=cert, headers={"Authorization": f"Bearer {token[1]}"})
        assert metrics.status_code == 200
        assert 'bastion_audit_events_total{action="token.create",outcome="success"} 1.0' in (
            metrics.text
        )
        # Five bad tokens from one address: the default [alerts] rule fires, and the alert
        # is an audit event, a metric and a log line; every request was timed by route.
        for _ in range(5):
            bad = httpx.get(url, verify=cert, headers={"Authorization": "Bearer bst_nope"})
            assert bad.status_code == 401
        metrics = httpx.get(url, verify=cert, headers={"Authorization": f"Bearer {token[1]}"})
        assert 'bastion_alerts_total{rule="login_failures"} 1.0' in metrics.text, metrics.text
        timed = re.search(
            r'bastion_request_duration_seconds_count\{method="GET",route="/metrics"\} (\d+)',
            metrics.text,
        )
        assert timed is not None, metrics.text
        assert int(float(timed[1])) >= 6  # one good and five bad tokens; no token: "unmatched"
    finally:
        _stop(proc)  # SIGTERM: the log drains and signs a checkpoint on the way out
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("BASTION_DATABASE_URL", None)
    base = [sys.executable, "-c", "from bastion.cli.main import main; main()", "audit"]
    verify = subprocess.run(
        [*base, "verify", "--data-dir", str(data), "--no-record"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    search = subprocess.run(
        [*base, "search", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    actions = [line for line in search.stdout.splitlines() if line.strip()]
    assert any('"key.create"' in a for a in actions)
    assert any('"token.create"' in a for a in actions)
    alert = next(a for a in actions if '"alert.login_failures"' in a)
    assert "127.0.0.1" in alert
