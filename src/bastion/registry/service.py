"""The registry as a library: namespaces, models, versions, release, download.

Every method takes the acting principal's id (for the audit trail) but decides nothing
about rights: the HTTP layer authorizes each request with :func:`bastion.auth.rbac.authorize`
before calling in. Uploads are in :mod:`bastion.registry.upload`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from bastion.audit import AuditEvent, AuditSink, Outcome
from bastion.config import ScanLimits
from bastion.crypto.kek import WrappedKey
from bastion.errors import IntegrityError
from bastion.registry import tables as t
from bastion.registry.blobs import BlobStore
from bastion.registry.errors import Conflict, NotFound, Quarantined
from bastion.registry.names import check_name, check_path, check_version
from bastion.registry.policy import NamespacePolicy

__all__ = ["Download", "Registry", "VersionState"]


class VersionState:
    COMMITTED = "committed"
    QUARANTINED = "quarantined"
    RELEASED = "released"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Download:
    """One file about to be served: its size and digest are known before the first byte."""

    path: str
    size: int
    sha256: str
    chunks: Iterator[bytes]


class Registry:
    """Shared state of one registry: the database, the blob store, the audit sink."""

    def __init__(
        self,
        engine: Engine,
        store: BlobStore,
        audit: AuditSink,
        *,
        work_dir: Path,
        max_file_size: int = 64 << 30,
        scan_limits: ScanLimits | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.audit = audit
        self.work_dir = work_dir
        self.max_file_size = max_file_size
        self.scan_limits = scan_limits or ScanLimits()
        work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    # --- audit -------------------------------------------------------------------------
    def emit(
        self,
        action: str,
        actor: str,
        resource: str | None = None,
        *,
        outcome: Outcome = Outcome.SUCCESS,
        reason: str | None = None,
        **details: str | int | float | bool | None,
    ) -> None:
        self.audit.emit(
            AuditEvent(
                action=action,
                actor=actor,
                outcome=outcome,
                resource=resource,
                reason=reason,
                details=details,
            )
        )

    # --- namespaces ----------------------------------------------------------------------
    def create_namespace(
        self, actor: str, name: str, policy: NamespacePolicy | None = None
    ) -> None:
        check_name(name, "namespace")
        with self.engine.begin() as conn:
            if self._namespace_row(conn, name) is not None:
                raise Conflict(f"namespace {name!r} exists", hint="Pick another name.")
            conn.execute(
                t.namespaces.insert().values(
                    name=name,
                    policy=(policy or NamespacePolicy()).to_json(),
                    created_by=actor,
                    created_at=datetime.now(UTC),
                )
            )
        self.emit("namespace.create", actor, name)

    def namespaces(self) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.namespaces.c.name).order_by(t.namespaces.c.name))
            return [r.name for r in rows]

    def _namespace_row(self, conn: Connection, name: str) -> Any:
        return conn.execute(sa.select(t.namespaces).where(t.namespaces.c.name == name)).first()

    def policy(self, namespace: str) -> NamespacePolicy:
        with self.engine.connect() as conn:
            row = self._namespace_row(conn, namespace)
        if row is None:
            raise NotFound(f"no namespace {namespace!r}")
        return NamespacePolicy.from_json(row.policy)

    def set_policy(self, actor: str, namespace: str, policy: NamespacePolicy) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(
                t.namespaces.update()
                .where(t.namespaces.c.name == namespace)
                .values(policy=policy.to_json())
            )
            if result.rowcount != 1:
                raise NotFound(f"no namespace {namespace!r}")
        self.emit("namespace.policy", actor, namespace, policy=policy.to_json())

    # --- models and versions -----------------------------------------------------------
    def models(self, namespace: str) -> list[str]:
        with self.engine.connect() as conn:
            if self._namespace_row(conn, namespace) is None:
                raise NotFound(f"no namespace {namespace!r}")
            rows = conn.execute(
                sa.select(t.models.c.name)
                .where(t.models.c.namespace == namespace)
                .order_by(t.models.c.name)
            )
            return [r.name for r in rows]

    def versions(self, namespace: str, model: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            model_id = self._model_id(conn, namespace, model)
            rows = conn.execute(
                sa.select(t.versions)
                .where(t.versions.c.model_id == model_id)
                .order_by(t.versions.c.created_at, t.versions.c.id)
            ).all()
        return [
            {
                "version": r.name,
                "state": r.state,
                "created_by": r.created_by,
                "created_at": _aware(r.created_at).isoformat(),
            }
            for r in rows
        ]

    def _model_id(self, conn: Connection, namespace: str, model: str) -> int:
        row = conn.execute(
            sa.select(t.models.c.id).where(
                t.models.c.namespace == namespace, t.models.c.name == model
            )
        ).first()
        if row is None:
            raise NotFound(f"no model {namespace}/{model}")
        return int(row.id)

    def _version_row(self, conn: Connection, namespace: str, model: str, version: str) -> Any:
        check_version(version)
        model_id = self._model_id(conn, namespace, model)
        row = conn.execute(
            sa.select(t.versions).where(
                t.versions.c.model_id == model_id, t.versions.c.name == version
            )
        ).first()
        if row is None:
            raise NotFound(f"no version {namespace}/{model}:{version}")
        return row

    def version_info(self, namespace: str, model: str, version: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = self._version_row(conn, namespace, model, version)
            file_rows = conn.execute(
                sa.select(t.files.c.path, t.files.c.size, t.files.c.sha256)
                .where(t.files.c.version_id == row.id)
                .order_by(t.files.c.path)
            ).all()
        return {
            "namespace": namespace,
            "model": model,
            "version": version,
            "state": row.state,
            "state_reason": row.state_reason,
            "created_by": row.created_by,
            "created_at": _aware(row.created_at).isoformat(),
            "released_by": row.released_by,
            "released_at": _aware(row.released_at).isoformat() if row.released_at else None,
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in file_rows],
            "signature": row.signature,
            "scan_report": json.loads(row.scan_report),
        }

    def release(self, actor: str, namespace: str, model: str, version: str, reason: str) -> None:
        """Let a quarantined version be downloaded; ``reason`` goes into the audit trail."""
        reason = reason.strip()
        if not reason:
            raise Conflict("a release needs a reason", hint="Say why the version is safe.")
        resource = f"{namespace}/{model}:{version}"
        with self.engine.begin() as conn:
            row = self._version_row(conn, namespace, model, version)
            if row.state != VersionState.QUARANTINED:
                raise Conflict(f"{resource} is {row.state}, not quarantined", hint="")
            conn.execute(
                t.versions.update()
                .where(t.versions.c.id == row.id, t.versions.c.state == VersionState.QUARANTINED)
                .values(
                    state=VersionState.RELEASED,
                    state_reason=f"released: {reason} (quarantined: {row.state_reason})",
                    released_by=actor,
                    released_at=datetime.now(UTC),
                )
            )
        self.emit("model.release", actor, resource, reason=reason)

    # --- download ----------------------------------------------------------------------
    def download(self, actor: str, namespace: str, model: str, version: str, path: str) -> Download:
        check_path(path)
        resource = f"{namespace}/{model}:{version}"
        with self.engine.connect() as conn:
            row = self._version_row(conn, namespace, model, version)
            if row.state == VersionState.QUARANTINED:
                self.emit(
                    "model.download", actor, resource, outcome=Outcome.DENIED, reason="quarantined"
                )
                raise Quarantined(f"{resource} is quarantined: {row.state_reason}")
            found = conn.execute(
                sa.select(t.files, t.blobs.c.wrapped_key)
                .join(t.blobs, t.blobs.c.id == t.files.c.blob_id)
                .where(t.files.c.version_id == row.id, t.files.c.path == path)
            ).first()
        if found is None:
            raise NotFound(f"{resource} has no file {path!r}")
        try:
            reader = self.store.reader(found.blob_id, WrappedKey.from_bytes(found.wrapped_key))
        except IntegrityError as exc:
            self._integrity_alert(actor, resource, path, found.blob_id, exc)
            raise
        self.emit("model.download", actor, resource, path=path, sha256=found.sha256)
        chunks = reader.chunks(expected_sha256=found.sha256, expected_size=found.size)
        return Download(
            path,
            found.size,
            found.sha256,
            self._watched(chunks, actor, resource, path, found.blob_id),
        )

    def _watched(
        self, chunks: Iterator[bytes], actor: str, resource: str, path: str, blob_id: str
    ) -> Iterator[bytes]:
        try:
            yield from chunks
        except IntegrityError as exc:
            self._integrity_alert(actor, resource, path, blob_id, exc)
            raise

    def _integrity_alert(
        self, actor: str, resource: str, path: str, blob_id: str, exc: IntegrityError
    ) -> None:
        self.emit(
            "blob.integrity",
            actor,
            resource,
            outcome=Outcome.FAILURE,
            reason=exc.message,
            path=path,
            blob=blob_id,
            alert=True,
        )
