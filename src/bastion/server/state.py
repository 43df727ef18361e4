"""What every request handler shares, built once per server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from bastion.audit import AuditSink
from bastion.monitoring.metrics import Metrics
from bastion.registry.service import Registry
from bastion.registry.upload import Uploads

if TYPE_CHECKING:
    from bastion.audit.checkpoint import NoteVerifier
    from bastion.auth.oidc import OidcClient
    from bastion.auth.service import IdentityService


@dataclass(frozen=True, slots=True)
class ServerState:
    engine: Engine
    registry: Registry
    uploads: Uploads
    audit: AuditSink
    metrics: Metrics = field(default_factory=Metrics)  # served on /metrics
    # users, logins and sessions for the web console; None when argon2-cffi or pyotp is missing
    identity: IdentityService | None = None
    # checks the tamper-evident log's signed checkpoints (the console's audit verify)
    audit_verifier: NoteVerifier | None = None
    # single sign-on for the console, when the settings' [sso] names an issuer
    sso: OidcClient | None = None
