"""Prometheus metrics, on a registry of their own (no global state).

The server mounts :func:`render_latest` on ``/metrics`` behind authentication or on a
separate port. Label values are bounded: principals only on downloads (the model-theft
signal), rules and severities from fixed vocabularies.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bastion.audit.base import AuditEvent, Outcome
from bastion.monitoring.alerts import Alert


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events = Counter(
            "bastion_audit_events", "Audit events", ["action", "outcome"], registry=r
        )
        self.auth_failures = Counter(
            "bastion_auth_failures", "Failed or denied authentications", ["action"], registry=r
        )
        self.uploads = Counter("bastion_uploads", "Model uploads", ["outcome"], registry=r)
        self.scan_verdicts = Counter(
            "bastion_scan_verdicts", "Scan verdicts", ["severity"], registry=r
        )
        self.quarantines = Counter("bastion_quarantines", "Models quarantined", registry=r)
        self.releases = Counter(
            "bastion_quarantine_releases", "Models released from quarantine", registry=r
        )
        self.downloads = Counter("bastion_downloads", "Model downloads", ["principal"], registry=r)
        self.guard_blocks = Counter("bastion_guard_blocks", "Guard blocks", ["rule"], registry=r)
        self.alerts = Counter("bastion_alerts", "Alerts raised", ["rule"], registry=r)
        self.extraction_actions = Counter(
            "bastion_guard_extraction_actions",
            "Graded actions of the guard's extraction detector",
            ["action"],
            registry=r,
        )
        self.request_latency = Histogram(
            "bastion_request_duration_seconds",
            "HTTP request latency",
            ["route", "method"],
            registry=r,
        )


def render_latest(metrics: Metrics) -> tuple[bytes, str]:
    """The body and content type of a ``/metrics`` response."""
    return generate_latest(metrics.registry), CONTENT_TYPE_LATEST


class MetricsSink:
    """An AuditSink that counts events into :class:`Metrics`."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def emit(self, event: AuditEvent) -> None:
        m, action, failed = self.metrics, event.action, event.outcome is not Outcome.SUCCESS
        m.events.labels(action, event.outcome.value).inc()
        if action.startswith("auth.") and failed:
            m.auth_failures.labels(action).inc()
        elif action == "model.upload":
            m.uploads.labels(event.outcome.value).inc()
        elif action in ("model.scan", "scan.verdict"):
            d = event.details
            verdict = d.get("severity") or d.get("verdict") or "none"
            m.scan_verdicts.labels(str(verdict)).inc()
        elif action == "model.quarantine":
            m.quarantines.inc()
        elif action == "model.release":
            m.releases.inc()
        elif action == "model.download" and not failed:
            m.downloads.labels(event.actor).inc()
        elif action == "guard.block":
            m.guard_blocks.labels(str(event.details.get("rule", "unknown"))).inc()
        elif action.startswith("guard.extraction."):
            m.extraction_actions.labels(action.removeprefix("guard.extraction.")).inc()
        elif action.startswith("alert."):
            m.alerts.labels(action.removeprefix("alert.")).inc()


class MetricsNotifier:
    """Counts alerts that are not also counted from the log (no LogNotifier in front)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def notify(self, alert: Alert) -> None:
        self.metrics.alerts.labels(alert.rule).inc()
