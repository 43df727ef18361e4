"""What every playbook shares: where it acts (a data directory, its database and its
tamper-evident audit log), who acts, and what it changed (or would change)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from bastion.audit import AuditEvent
from bastion.audit.base import DetailValue
from bastion.audit.checkpoint import NoteSigner
from bastion.audit.local import KEY_FILE as AUDIT_KEY_FILE
from bastion.audit.local import ORIGIN as AUDIT_ORIGIN
from bastion.audit.log import AuditLog
from bastion.db import make_engine, migrate
from bastion.errors import BastionError


class IncidentError(BastionError):
    """A playbook cannot run as asked."""

    hint = "Check the principal, model references and filters; --dry-run shows the plan."


def parse_ref(text: str) -> tuple[str, str, str]:
    """``NAMESPACE/MODEL:VERSION`` as its three parts."""
    namespace, slash, rest = text.partition("/")
    model, colon, version = rest.partition(":")
    if not (slash and colon and namespace and model and version):
        raise IncidentError(
            f"not a version reference: {text!r}", hint="Use NAMESPACE/MODEL:VERSION."
        )
    return namespace, model, version


@dataclass(frozen=True, slots=True)
class Change:
    """One change a playbook made, or would make under ``--dry-run``."""

    action: str  # the audit action it is recorded under, e.g. "token.revoke"
    target: str  # what it applies to: a principal, a token id, a model reference
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PlaybookResult:
    playbook: str
    dry_run: bool
    changes: tuple[Change, ...]
    notes: tuple[str, ...] = ()  # what the operator must still do by hand


@dataclass
class Workspace:
    """A server's data directory, its database and its audit log, as an operator."""

    data_dir: Path
    engine: Engine
    log: AuditLog
    actor: str
    source: str = "cli"

    def emit(
        self,
        action: str,
        resource: str | None,
        details: Mapping[str, DetailValue] | None = None,
        *,
        reason: str | None = None,
    ) -> None:
        self.log.emit(
            AuditEvent(
                action=action,
                actor=self.actor,
                resource=resource,
                source=self.source,
                reason=reason,
                details=dict(details or {}),
            )
        )

    def record(self, result: PlaybookResult, reason: str, resource: str | None = None) -> None:
        """The playbook's own event (also for a dry run), then a signed checkpoint."""
        self.emit(
            f"incident.{result.playbook}",
            resource,
            {"dry_run": result.dry_run, "changes": len(result.changes)},
            reason=reason,
        )
        self.log.checkpoint()


@contextmanager
def workspace(
    data_dir: Path, database_url: str | None = None, *, actor: str
) -> Iterator[Workspace]:
    """Open the data directory's database and audit log (the ones ``bastion up`` uses)."""
    if not data_dir.is_dir():
        raise IncidentError(f"no data directory at {data_dir}")
    engine = make_engine(database_url or f"sqlite:///{data_dir / 'bastion.db'}")
    try:
        migrate(engine)
        signer = NoteSigner.load_or_create(data_dir / AUDIT_KEY_FILE, AUDIT_ORIGIN)
        with AuditLog(engine, signer=signer) as log:
            yield Workspace(data_dir, engine, log, actor)
    finally:
        engine.dispose()
