"""What every request handler shares, built once per server."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from bastion.audit import AuditSink
from bastion.monitoring.metrics import Metrics
from bastion.registry.service import Registry
from bastion.registry.upload import Uploads


@dataclass(frozen=True, slots=True)
class ServerState:
    engine: Engine
    registry: Registry
    uploads: Uploads
    audit: AuditSink
    metrics: Metrics = field(default_factory=Metrics)  # served on /metrics
