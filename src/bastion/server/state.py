"""What every request handler shares, built once per server."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bastion.audit import AuditSink
from bastion.registry.service import Registry
from bastion.registry.upload import Uploads


@dataclass(frozen=True, slots=True)
class ServerState:
    engine: Engine
    registry: Registry
    uploads: Uploads
    audit: AuditSink
