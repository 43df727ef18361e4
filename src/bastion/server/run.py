"""Run the server: prepare the data directory, then uvicorn with TLS (mTLS with a client CA)."""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass

from bastion.audit import AuditEvent, AuditSink
from bastion.config import ScanLimits, ServerSettings
from bastion.db import redact_url
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

__all__ = ["LoggingAuditSink", "Started", "serve"]


class LoggingAuditSink:
    """Audit events as JSON lines on the ``bastion.audit`` logger, until the tamper-evident
    log is wired in; unlike a memory sink it does not grow with the server's lifetime."""

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


def serve(
    settings: ServerSettings,
    audit: AuditSink,
    *,
    on_ready: Callable[[Started], None],
    scan_limits: ScanLimits | None = None,
    log_level: str = "info",
) -> None:
    """Prepare and serve until interrupted. TLS is on unless ``settings.insecure_http``."""
    import uvicorn

    paths = Paths(settings.data_dir)
    engine = engine_for(paths, settings.database_url)
    first = prepare(paths, engine, audit, key_file=settings.pkcs11_module is None)
    state = open_state(
        paths,
        engine,
        audit,
        keys=key_provider(paths, settings),
        max_file_size=settings.max_file_size,
        scan_limits=scan_limits,
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
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=log_level,
            server_header=False,
            proxy_headers=False,
            **tls,  # type: ignore[arg-type]
        )
    finally:
        engine.dispose()
