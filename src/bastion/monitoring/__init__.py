"""Prometheus metrics and alert rules evaluated on the audit event stream."""

from __future__ import annotations

from bastion.monitoring.alerts import Alert, AlertEngine, LogNotifier, WebhookNotifier
from bastion.monitoring.metrics import Metrics, MetricsNotifier, MetricsSink, render_latest
from bastion.monitoring.sinks import FanOutSink

__all__ = [
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
