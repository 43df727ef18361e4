"""Alert rules evaluated on the audit event stream, and where alerts go.

Rules: repeated login failures per actor and source within a window; a principal
downloading far more than its own baseline (an EWMA of its downloads per window, a
model-theft signal); actions that always alert (quarantine releases, key rotations);
and failed audit verifications. Windows follow the events' own times, so replaying a
log raises the same alerts. Alerts go to every notifier: the audit log (as
``alert.<rule>`` events), a webhook signed with HMAC-SHA256, and the metrics.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bastion.audit.base import AuditEvent, AuditSink, DetailValue, Outcome
from bastion.config import AlertSettings
from bastion.errors import ConfigError

log = logging.getLogger(__name__)
MONITOR = "bastion:monitor"


@dataclass(frozen=True, slots=True)
class Alert:
    rule: str
    severity: str
    summary: str
    subject: str  # the principal the alert is about
    time: datetime
    resource: str | None = None
    details: dict[str, DetailValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "summary": self.summary,
            "subject": self.subject,
            "resource": self.resource,
            "time": self.time.isoformat(),
            "details": self.details,
        }


class Notifier(Protocol):
    def notify(self, alert: Alert) -> None: ...


class LogNotifier:
    """Writes each alert into an audit sink (the log) as an ``alert.<rule>`` event."""

    def __init__(self, sink: AuditSink) -> None:
        self.sink = sink

    def notify(self, alert: Alert) -> None:
        self.sink.emit(
            AuditEvent(
                action=f"alert.{alert.rule}",
                actor=MONITOR,
                outcome=Outcome.SUCCESS,
                resource=alert.resource,
                reason=alert.summary,
                details={"rule": alert.rule, "severity": alert.severity, "subject": alert.subject}
                | alert.details,
                time=alert.time,
            )
        )


def sign_body(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC of "<timestamp>.<body>">``: what X-Bastion-Signature carries."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class WebhookNotifier:
    """POSTs each alert as JSON from a background thread, with retries.

    Headers: ``X-Bastion-Timestamp`` (unix seconds) and ``X-Bastion-Signature``
    (:func:`sign_body`); receivers recompute it with the shared secret and compare in
    constant time, and reject old timestamps to stop replays.
    """

    def __init__(self, url: str, *, secret: str, retries: int = 4, timeout: float = 5.0) -> None:
        if not secret:
            raise ConfigError("a webhook needs a secret: set [alerts] webhook_secret")
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - httpx ships with the extras
            raise ConfigError(
                "the alert webhook needs httpx: pip install 'bastion-ml[monitoring]'"
            ) from exc
        self._client = httpx.Client(timeout=timeout)
        self.url, self._secret, self.retries = url, secret.encode(), retries
        self._queue: queue.Queue[Alert | None] = queue.Queue(maxsize=10_000)
        self._thread = threading.Thread(target=self._run, name="bastion-webhook", daemon=True)
        self._thread.start()

    def notify(self, alert: Alert) -> None:
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            log.error("alert webhook queue full; dropped alert %s", alert.rule)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._client.close()

    def _run(self) -> None:
        while (alert := self._queue.get()) is not None:
            self._send(alert)

    def _send(self, alert: Alert) -> None:
        body = json.dumps(alert.to_json(), sort_keys=True).encode()
        delay = 0.5
        for attempt in range(self.retries + 1):
            stamp = str(int(time.time()))
            headers = {
                "content-type": "application/json",
                "x-bastion-timestamp": stamp,
                "x-bastion-signature": sign_body(self._secret, stamp, body),
            }
            try:
                response = self._client.post(self.url, content=body, headers=headers)
                if response.status_code < 300:
                    return
                log.warning("alert webhook answered %d", response.status_code)
            except Exception as exc:
                log.warning("alert webhook failed (attempt %d): %s", attempt + 1, exc)
            time.sleep(delay)
            delay = min(delay * 2, 30.0)
        log.error("alert %s not delivered to the webhook", alert.rule)


class _Baseline:
    __slots__ = ("alerted", "count", "ewma", "window")

    def __init__(self, window: int) -> None:
        self.window, self.count, self.alerted = window, 0, False
        self.ewma: float | None = None


class AlertEngine:
    """An AuditSink that evaluates the rules and sends alerts to its notifiers."""

    def __init__(self, settings: AlertSettings, notifiers: Sequence[Notifier]) -> None:
        self.settings = settings
        self.notifiers = tuple(notifiers)
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._downloads: dict[str, _Baseline] = {}

    def emit(self, event: AuditEvent) -> None:
        if event.action.startswith("alert."):
            return  # never alert on alerts
        with self._lock:
            alerts = self._evaluate(event)
        for alert in alerts:
            for notifier in self.notifiers:
                try:
                    notifier.notify(alert)
                except Exception as exc:
                    log.warning("alert notifier %s failed: %s", type(notifier).__name__, exc)

    def _evaluate(self, event: AuditEvent) -> list[Alert]:
        s, action, failed = self.settings, event.action, event.outcome is not Outcome.SUCCESS
        if action in s.on_actions and not failed:
            rule = action.replace(".", "_")
            return [
                Alert(
                    rule,
                    "high",
                    f"{event.actor} did {action}",
                    event.actor,
                    event.time,
                    event.resource,
                )
            ]
        if action == "audit.verify" and failed:
            summary = f"audit log verification failed: {event.reason or 'tampered'}"
            return [
                Alert(
                    "audit_verify_failed",
                    "critical",
                    summary,
                    event.actor,
                    event.time,
                    event.resource,
                )
            ]
        if action in ("auth.login", "auth.token") and failed:
            return self._login_failure(event)
        if action == "model.download" and not failed:
            return self._download(event)
        return []

    def _login_failure(self, event: AuditEvent) -> list[Alert]:
        s = self.settings
        now = event.time.timestamp()
        window = self._failures[(event.actor, event.source or "")]
        window.append(now)
        while window and window[0] <= now - s.login_window:
            window.popleft()
        if len(window) < s.login_failures:
            return []
        window.clear()
        summary = (
            f"{s.login_failures} failed logins for {event.actor} from {event.source or 'unknown'}"
        )
        details: dict[str, DetailValue] = {"source": event.source, "window_s": s.login_window}
        return [Alert("login_failures", "high", summary, event.actor, event.time, None, details)]

    def _download(self, event: AuditEvent) -> list[Alert]:
        s = self.settings
        window = int(event.time.timestamp() // s.download_window)
        b = self._downloads.setdefault(event.actor, _Baseline(window))
        if window != b.window:  # close the finished window(s) into the baseline
            for _ in range(min(window - b.window, 50)):
                b.ewma = (
                    b.count
                    if b.ewma is None
                    else s.download_alpha * b.count + (1 - s.download_alpha) * b.ewma
                )
                b.count = 0
            b.window, b.alerted = window, False
        b.count += 1
        limit = max(s.download_min, s.download_factor * (b.ewma or 0.0))
        if b.alerted or b.count < limit:
            return []
        b.alerted = True
        baseline = round(b.ewma or 0.0, 2)
        summary = f"{event.actor} downloaded {b.count} times this window (baseline {baseline})"
        details: dict[str, DetailValue] = {"count": b.count, "baseline": baseline}
        return [
            Alert(
                "download_spike", "high", summary, event.actor, event.time, event.resource, details
            )
        ]
