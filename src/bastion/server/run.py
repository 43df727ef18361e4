"""Run the server: prepare the data directory, then uvicorn with TLS (mTLS with a client CA)."""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from bastion.audit import AuditEvent, AuditSink
from bastion.audit import local as audit_local
from bastion.audit.checkpoint import NoteSigner
from bastion.audit.log import AuditLog
from bastion.config import AlertSettings, AuthSettings, ScanLimits, ServerSettings, SsoSettings
from bastion.db import migrate, redact_url
from bastion.monitoring.alerts import AlertEngine, LogNotifier, Notifier, WebhookNotifier
from bastion.monitoring.metrics import Metrics, MetricsSink
from bastion.monitoring.sinks import FanOutSink
from bastion.server.app import create_app
from bastion.server.bootstrap import (
    FirstStart,
    Paths,
    engine_for,
    key_provider,
    open_state,
    prepare,
)
from bastion.server.mtls import ClientCertProtocol

__all__ = [
    "AUDIT_KEY_FILE",
    "AUDIT_ORIGIN",
    "LoggingAuditSink",
    "Monitored",
    "Started",
    "monitored",
    "serve",
]

#: The tamper-evident log's checkpoint name and signing key, the defaults `bastion audit` reads.
AUDIT_ORIGIN = audit_local.ORIGIN
AUDIT_KEY_FILE = audit_local.KEY_FILE


class LoggingAuditSink:
    """Audit events as JSON lines on the ``bastion.audit`` logger, for the operator's console;
    the tamper-evident record is the :class:`AuditLog` that :func:`serve` adds beside it."""

    def __init__(self) -> None:
        self._log = logging.getLogger("bastion.audit")

    def emit(self, event: AuditEvent) -> None:
        record = {
            "time": event.time.isoformat(),
            "action": event.action,
            "actor": event.actor,
            "outcome": event.outcome.value,
            "resource": event.resource,
            "source": event.source,
            "reason": event.reason,
            "details": dict(event.details),
        }
        self._log.warning("%s", json.dumps(record, sort_keys=True))


@dataclass(frozen=True, slots=True)
class Started:
    """What ``bastion up`` tells the operator before it starts serving."""

    url: str
    paths: Paths
    database: str
    first: FirstStart


@dataclass(frozen=True, slots=True)
class Monitored:
    """The server's audit stream: where every event goes, and what watches it."""

    sink: AuditSink
    metrics: Metrics
    alerts: AlertEngine
    webhook: WebhookNotifier | None

    def close(self) -> None:
        if self.webhook is not None:
            self.webhook.close()


def monitored(audit: AuditSink, log: AuditSink, alerts: AlertSettings) -> Monitored:
    """Every event goes to ``audit`` (the operator's console), ``log`` (the tamper-evident
    log) and the metrics, and through the alert rules; an alert is itself an audit event
    (``alert.<rule>``, in the log and on the console), a metric, and a signed webhook POST
    when ``[alerts] webhook_url`` is set."""
    metrics = Metrics()
    recorded = FanOutSink([audit, log, MetricsSink(metrics)])
    # The alert's audit event is counted by the metrics sink: no MetricsNotifier as well.
    notifiers: list[Notifier] = [LogNotifier(recorded)]
    webhook = None
    if alerts.webhook_url:
        webhook = WebhookNotifier(alerts.webhook_url, secret=alerts.webhook_secret or "")
        notifiers.append(webhook)
    engine = AlertEngine(alerts, notifiers)
    return Monitored(FanOutSink([recorded, engine]), metrics, engine, webhook)


def serve(
    settings: ServerSettings,
    audit: AuditSink,
    *,
    on_ready: Callable[[Started], None],
    scan_limits: ScanLimits | None = None,
    alerts: AlertSettings | None = None,
    auth: AuthSettings | None = None,
    sso: SsoSettings | None = None,
    log_level: str = "info",
) -> None:
    """Prepare and serve until interrupted. TLS is on unless ``settings.insecure_http``."""
    paths = Paths(settings.data_dir)
    engine = engine_for(paths, settings.database_url)
    # Every event also goes to the Merkle-tree audit log in the same database, signed with
    # the data directory's checkpoint key, so `bastion audit verify` checks what the server did.
    paths.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    migrate(engine)
    signer = NoteSigner.load_or_create(paths.data_dir / AUDIT_KEY_FILE, AUDIT_ORIGIN)
    log = AuditLog(engine, signer=signer)
    watch = monitored(audit, log, alerts or AlertSettings())
    try:
        _serve(
            settings, paths, engine, watch.sink, watch.metrics, on_ready, scan_limits, log_level,
            auth=auth or AuthSettings(), verifier=signer, sso=sso,
        )  # fmt: skip
    finally:
        watch.close()
        log.close()
        engine.dispose()


def _serve(
    settings: ServerSettings,
    paths: Paths,
    engine: Engine,
    audit: AuditSink,
    metrics: Metrics,
    on_ready: Callable[[Started], None],
    scan_limits: ScanLimits | None,
    log_level: str,
    *,
    auth: AuthSettings,
    verifier: NoteSigner,
    sso: SsoSettings | None,
) -> None:
    import uvicorn

    first = prepare(paths, engine, audit, key_file=settings.pkcs11_module is None)
    state = open_state(
        paths,
        engine,
        audit,
        keys=key_provider(paths, settings),
        max_file_size=settings.max_file_size,
        scan_limits=scan_limits,
        metrics=metrics,
        auth=auth,
        audit_verifier=verifier,
        sso=sso,
    )
    app = create_app(state)
    scheme = "http" if settings.insecure_http else "https"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"{scheme}://{host}:{settings.port}"
    database = redact_url(settings.database_url or paths.default_database_url())
    on_ready(Started(url, paths, database, first))
    tls: dict[str, object] = {}
    if not settings.insecure_http:
        tls = {"ssl_certfile": str(paths.cert), "ssl_keyfile": str(paths.cert_key)}
        if settings.client_ca is not None:
            tls["ssl_ca_certs"] = str(settings.client_ca)
            tls["ssl_cert_reqs"] = ssl.CERT_REQUIRED
            tls["http"] = ClientCertProtocol
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        server_header=False,
        proxy_headers=False,
        **tls,  # type: ignore[arg-type]
    )
