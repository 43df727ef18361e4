"""Metrics from events, alert rules, the signed webhook, and the fan-out sink."""

from __future__ import annotations

import hmac
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from bastion.audit import AuditEvent, MemoryAuditSink, Outcome
from bastion.config import AlertSettings, Settings
from bastion.errors import ConfigError
from bastion.monitoring import (
    AlertEngine,
    FanOutSink,
    LogNotifier,
    Metrics,
    MetricsSink,
    WebhookNotifier,
    render_latest,
)
from bastion.monitoring.alerts import sign_body

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def ev(
    action: str, actor: str = "user:a", *, t: float = 0, ok: bool = True, **d: object
) -> AuditEvent:
    return AuditEvent(
        action=action,
        actor=actor,
        outcome=Outcome.SUCCESS if ok else Outcome.FAILURE,
        source="10.0.0.9",
        details=d,  # type: ignore[arg-type]
        time=T0 + timedelta(seconds=t),
    )


def test_metrics_count_the_events() -> None:
    metrics = Metrics()
    sink = MetricsSink(metrics)
    for e in [
        ev("auth.login", ok=False),
        ev("model.upload"),
        ev("model.scan", verdict="quarantined"),
        ev("model.quarantine"),
        ev("model.download", "user:b"),
        ev("model.download", "user:b"),
        ev("guard.block", rule="prompt_attack"),
    ]:
        sink.emit(e)
    metrics.request_latency.labels("/v1/models", "GET").observe(0.02)
    body, ctype = render_latest(metrics)
    text = body.decode()
    assert ctype.startswith("text/plain")
    assert 'bastion_auth_failures_total{action="auth.login"} 1.0' in text
    assert 'bastion_downloads_total{principal="user:b"} 2.0' in text
    assert 'bastion_guard_blocks_total{rule="prompt_attack"} 1.0' in text
    assert 'bastion_scan_verdicts_total{severity="quarantined"} 1.0' in text
    assert "bastion_quarantines_total 1.0" in text
    assert "bastion_request_duration_seconds_bucket" in text


def _engine(**kw: object) -> tuple[AlertEngine, MemoryAuditSink]:
    log = MemoryAuditSink()
    return AlertEngine(AlertSettings(**kw), [LogNotifier(log)]), log  # type: ignore[arg-type]


def test_repeated_login_failures_alert_once_per_burst() -> None:
    engine, log = _engine(login_failures=3, login_window=60)
    for i in range(2):
        engine.emit(ev("auth.login", ok=False, t=i))
    engine.emit(ev("auth.login", ok=False, t=100))  # the window moved on
    assert log.actions() == []
    engine.emit(ev("auth.login", ok=False, t=101))
    engine.emit(ev("auth.login", ok=False, t=102))
    assert log.actions() == ["alert.login_failures"]
    alert = log.events[0]
    assert alert.details["subject"] == "user:a"
    assert alert.details["severity"] == "high"


def test_a_download_spike_against_the_own_baseline_alerts() -> None:
    engine2, log2 = _engine(download_factor=5, download_min=10, download_window=3600)
    for hour in range(5):  # a steady 4 downloads an hour: the baseline
        for k in range(4):
            engine2.emit(ev("model.download", "user:thief", t=hour * 3600 + k))
    for k in range(19):
        engine2.emit(ev("model.download", "user:thief", t=5 * 3600 + k))
    assert log2.actions() == []
    engine2.emit(ev("model.download", "user:thief", t=5 * 3600 + 30))  # 20 = 5 x 4
    assert log2.actions() == ["alert.download_spike"]
    engine2.emit(ev("model.download", "user:thief", t=5 * 3600 + 31))
    assert log2.actions() == ["alert.download_spike"]  # once per window


def test_releases_rotations_and_verify_failures_alert() -> None:
    engine, log = _engine()
    engine.emit(ev("model.release", "user:admin"))
    engine.emit(ev("key.rotate", "user:admin"))
    engine.emit(ev("audit.verify", "cli", ok=False))
    engine.emit(ev("audit.verify", "cli"))
    engine.emit(ev("alert.model_release"))  # alerts never feed back
    assert log.actions() == [
        "alert.model_release",
        "alert.key_rotate",
        "alert.audit_verify_failed",
    ]


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_first = 1

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if _Receiver.fail_first:
            _Receiver.fail_first -= 1
            self.send_response(503)
        else:
            _Receiver.received.append((dict(self.headers), body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_is_signed_and_retried() -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        hook = WebhookNotifier(f"http://127.0.0.1:{server.server_port}/hook", secret="s3cret")  # noqa: S106
        engine = AlertEngine(AlertSettings(), [hook])
        engine.emit(ev("key.rotate", "user:admin"))
        hook.close()
    finally:
        server.shutdown()
        server.server_close()
    [(headers, body)] = _Receiver.received
    lower = {k.lower(): v for k, v in headers.items()}
    expected = sign_body(b"s3cret", lower["x-bastion-timestamp"], body)
    assert hmac.compare_digest(lower["x-bastion-signature"], expected)
    assert json.loads(body)["rule"] == "key_rotate"
    with pytest.raises(ConfigError):
        WebhookNotifier("http://127.0.0.1:1/", secret="")


def test_fan_out_reaches_every_sink_even_if_one_fails() -> None:
    class Broken:
        def emit(self, event: AuditEvent) -> None:
            raise RuntimeError("down")

    a, b = MemoryAuditSink(), MemoryAuditSink()
    with pytest.raises(RuntimeError):
        FanOutSink([a, Broken(), b]).emit(ev("model.upload"))
    assert a.actions() == b.actions() == ["model.upload"]


def test_alert_settings_from_the_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "bastion.toml"
    path.write_text('[alerts]\nlogin_failures = 3\non_actions = ["key.rotate"]\n')
    s = Settings.load(path, environ={"BASTION_ALERTS_WEBHOOK_SECRET": "x"}).alerts
    assert (s.login_failures, s.on_actions, s.webhook_secret) == (3, ("key.rotate",), "x")
    assert "x" not in repr(s)
    path.write_text("[alerts]\nlogin_failures = 0\n")
    with pytest.raises(ConfigError):
        Settings.load(path, environ={})
    path.write_text("[alerts]\nbogus = 1\n")
    with pytest.raises(ConfigError, match="bogus"):
        Settings.load(path, environ={})


def test_public_api() -> None:
    import bastion.monitoring

    assert sorted(bastion.monitoring.__all__) == [
        "Alert",
        "AlertEngine",
        "FanOutSink",
        "LogNotifier",
        "Metrics",
        "MetricsNotifier",
        "MetricsSink",
        "WebhookNotifier",
        "render_latest",
    ]
