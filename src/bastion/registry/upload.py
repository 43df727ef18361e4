"""Uploads: a session stages files, then one transaction commits the version.

Each file goes through one streaming pass (:class:`FileSink`): every chunk is hashed and
encrypted into a new blob; once the file is complete the blob is sealed and the scanner
reads it back through a decrypting, seekable reader (each segment authenticated as it is
read), so no plaintext copy of an upload is ever written to disk. A file that is
interrupted, too large or fails leaves nothing: its partial or sealed blob is deleted. A
session that is aborted or expires takes its staged blobs with it, and
:meth:`Uploads.commit` turns the staged files into an immutable version in one
transaction: committed when it passes the namespace policy, quarantined when it does not.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from bastion.audit import Outcome
from bastion.models import Severity
from bastion.registry import tables as t
from bastion.registry.blobs import BlobWriter
from bastion.registry.errors import BadRequest, Conflict, NotFound, TooLarge
from bastion.registry.names import check_name, check_path, check_version
from bastion.registry.policy import FileVerdict, evaluate
from bastion.registry.service import Registry, VersionState
from bastion.registry.signature import check_signature

__all__ = ["FileSink", "Uploads"]

UPLOAD_TTL = timedelta(hours=24)


def _file_scan_dict(result: Any) -> dict[str, Any]:
    return {
        "path": result.path,
        "size": result.size,
        "status": result.status.value,
        "formats": list(result.formats),
        "skipped_reason": result.skipped,
        "max_severity": result.max_severity.label if result.max_severity is not None else None,
        "findings": [f.to_dict() for f in result.findings],
        "errors": [e.to_dict() for e in result.errors],
    }


def _verdict(scan: dict[str, Any]) -> FileVerdict:
    worst = scan.get("max_severity")
    return FileVerdict(
        path=scan["path"],
        formats=tuple(scan["formats"]),
        max_severity=Severity.parse(worst) if worst else None,
        errors=len(scan["errors"]),
        skipped=scan.get("skipped_reason") is not None,
    )


@dataclass(frozen=True, slots=True)
class StagedFile:
    path: str
    size: int
    sha256: str
    scan: dict[str, Any]


class FileSink:
    """Receives one file's bytes: hash + encrypt, then seal and scan on close."""

    def __init__(self, registry: Registry, upload_id: str, path: str, actor: str) -> None:
        self._registry = registry
        self._upload_id = upload_id
        self._actor = actor
        self.path = path
        self._blob: BlobWriter = registry.store.writer()
        self._done = False

    def write(self, chunk: bytes) -> None:
        if self._blob.size + len(chunk) > self._registry.max_file_size:
            raise TooLarge(
                f"{self.path} is larger than the limit of {self._registry.max_file_size} bytes"
            )
        self._blob.write(chunk)

    def close(self) -> StagedFile:
        """Seal the blob, scan the file, record it in the session. Aborts on any error."""
        from bastion.scan import scan_stream

        try:
            sealed = self._blob.seal()
            with self._blob.plaintext() as plain:
                result = scan_stream(plain, self.path, limits=self._registry.scan_limits)
            scan = _file_scan_dict(result)
            with self._registry.engine.begin() as conn:
                _live_upload(conn, self._upload_id)
                conn.execute(
                    t.blobs.insert().values(
                        id=sealed.id,
                        size=sealed.size,
                        sha256=sealed.sha256,
                        wrapped_key=sealed.wrapped_key.to_bytes(),
                        key_id=sealed.wrapped_key.key_id,
                        key_version=sealed.wrapped_key.version,
                        created_at=datetime.now(UTC),
                    )
                )
                conn.execute(
                    t.upload_files.insert().values(
                        upload_id=self._upload_id,
                        path=self.path,
                        blob_id=sealed.id,
                        size=sealed.size,
                        sha256=sealed.sha256,
                        scan=json.dumps(scan),
                    )
                )
            self._done = True
            return StagedFile(self.path, sealed.size, sealed.sha256, scan)
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if self._done:
            return
        self._blob.discard()
        self._done = True


def _live_upload(conn: Connection, upload_id: str) -> Any:
    row = conn.execute(sa.select(t.uploads).where(t.uploads.c.id == upload_id)).first()
    if row is None:
        raise NotFound(f"no upload {upload_id!r} (finished, aborted or expired)")
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    if expires <= datetime.now(UTC):
        raise NotFound(f"upload {upload_id!r} has expired")
    return row


class Uploads:
    """Upload sessions of one registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def start(self, actor: str, namespace: str, model: str, version: str) -> str:
        check_name(namespace, "namespace")
        check_name(model, "model")
        check_version(version)
        self.reap()
        upload_id = secrets.token_hex(16)
        now = datetime.now(UTC)
        with self.registry.engine.begin() as conn:
            if self.registry._namespace_row(conn, namespace) is None:
                raise NotFound(f"no namespace {namespace!r}")
            if self._version_exists(conn, namespace, model, version):
                raise Conflict(f"{namespace}/{model}:{version} exists")
            conn.execute(
                t.uploads.insert().values(
                    id=upload_id,
                    namespace=namespace,
                    model=model,
                    version=version,
                    created_by=actor,
                    created_at=now,
                    expires_at=now + UPLOAD_TTL,
                )
            )
        return upload_id

    def _version_exists(self, conn: Connection, namespace: str, model: str, version: str) -> bool:
        row = conn.execute(
            sa.select(t.versions.c.id)
            .join(t.models, t.models.c.id == t.versions.c.model_id)
            .where(
                t.models.c.namespace == namespace,
                t.models.c.name == model,
                t.versions.c.name == version,
            )
        ).first()
        return row is not None

    def session(self, namespace: str, upload_id: str) -> Any:
        with self.registry.engine.connect() as conn:
            row = _live_upload(conn, upload_id)
        if row.namespace != namespace:
            raise NotFound(f"no upload {upload_id!r} in namespace {namespace!r}")
        return row

    def open_file(self, actor: str, namespace: str, upload_id: str, path: str) -> FileSink:
        check_path(path)
        self.session(namespace, upload_id)
        with self.registry.engine.connect() as conn:
            staged = conn.execute(
                sa.select(t.upload_files.c.path).where(
                    t.upload_files.c.upload_id == upload_id, t.upload_files.c.path == path
                )
            ).first()
        if staged is not None:
            raise Conflict(f"{path} was already uploaded in this session")
        return FileSink(self.registry, upload_id, path, actor)

    def abort(self, actor: str, namespace: str, upload_id: str) -> None:
        self.session(namespace, upload_id)
        self._drop(upload_id)
        self.registry.emit(
            "model.upload", actor, upload_id, outcome=Outcome.FAILURE, reason="aborted"
        )

    def _drop(self, upload_id: str) -> None:
        with self.registry.engine.begin() as conn:
            blob_ids = [
                r.blob_id
                for r in conn.execute(
                    sa.select(t.upload_files.c.blob_id).where(
                        t.upload_files.c.upload_id == upload_id
                    )
                )
            ]
            conn.execute(t.upload_files.delete().where(t.upload_files.c.upload_id == upload_id))
            conn.execute(t.uploads.delete().where(t.uploads.c.id == upload_id))
            if blob_ids:
                conn.execute(t.blobs.delete().where(t.blobs.c.id.in_(blob_ids)))
        for blob_id in blob_ids:
            self.registry.store.delete(blob_id)

    def reap(self) -> int:
        """Drop expired sessions and their staged blobs; return how many."""
        with self.registry.engine.connect() as conn:
            expired = [
                r.id
                for r in conn.execute(
                    sa.select(t.uploads.c.id).where(t.uploads.c.expires_at <= datetime.now(UTC))
                )
            ]
        for upload_id in expired:
            self._drop(upload_id)
        return len(expired)

    def commit(
        self, actor: str, namespace: str, upload_id: str, *, signature: str | None
    ) -> dict[str, Any]:
        """Turn the session into a version, in one transaction; return the version's info."""
        session = self.session(namespace, upload_id)
        resource = f"{namespace}/{session.model}:{session.version}"
        with self.registry.engine.begin() as conn:
            staged = [
                StagedFile(r.path, r.size, r.sha256, json.loads(r.scan))
                for r in conn.execute(
                    sa.select(t.upload_files)
                    .where(t.upload_files.c.upload_id == upload_id)
                    .order_by(t.upload_files.c.path)
                )
            ]
            if not staged:
                raise BadRequest("an upload needs at least one file")
            policy = self.registry.policy(namespace)
            problem = None
            if signature is not None:
                problem = check_signature(
                    signature, {f.path: f.sha256 for f in staged}, policy.trusted_keys
                )
            reasons = evaluate(
                policy,
                [_verdict(f.scan) for f in staged],
                signature=signature,
                signature_problem=problem,
            )
            state = VersionState.QUARANTINED if reasons else VersionState.COMMITTED
            version_id = self._insert_version(
                conn, session, actor, state, reasons, staged, signature
            )
            conn.execute(
                t.files.insert(),
                [
                    {
                        "version_id": version_id,
                        "path": f.path,
                        "blob_id": r.blob_id,
                        "size": f.size,
                        "sha256": f.sha256,
                    }
                    for f, r in zip(staged, self._blob_rows(conn, upload_id), strict=True)
                ],
            )
            conn.execute(t.upload_files.delete().where(t.upload_files.c.upload_id == upload_id))
            conn.execute(t.uploads.delete().where(t.uploads.c.id == upload_id))
        total = sum(f.size for f in staged)
        self.registry.emit("model.upload", actor, resource, files=len(staged), bytes=total)
        self.registry.emit(
            "model.scan",
            actor,
            resource,
            outcome=Outcome.FAILURE if reasons else Outcome.SUCCESS,
            verdict=state,
            reason="; ".join(reasons) or None,
        )
        if reasons:
            self.registry.emit("model.quarantine", actor, resource, reason="; ".join(reasons))
        return self.registry.version_info(namespace, session.model, session.version)

    def _blob_rows(self, conn: Connection, upload_id: str) -> list[Any]:
        return list(
            conn.execute(
                sa.select(t.upload_files.c.blob_id)
                .where(t.upload_files.c.upload_id == upload_id)
                .order_by(t.upload_files.c.path)
            )
        )

    def _insert_version(
        self,
        conn: Connection,
        session: Any,
        actor: str,
        state: str,
        reasons: list[str],
        staged: list[StagedFile],
        signature: str | None,
    ) -> int:
        model_row = conn.execute(
            sa.select(t.models.c.id).where(
                t.models.c.namespace == session.namespace, t.models.c.name == session.model
            )
        ).first()
        now = datetime.now(UTC)
        if model_row is None:
            model_id = conn.execute(
                t.models.insert().values(
                    namespace=session.namespace, name=session.model, created_at=now
                )
            ).inserted_primary_key
            assert model_id is not None
            model_id = model_id[0]
        else:
            model_id = model_row.id
        if self._version_exists(conn, session.namespace, session.model, session.version):
            raise Conflict(f"{session.namespace}/{session.model}:{session.version} exists")
        worst = [f.scan["max_severity"] for f in staged if f.scan.get("max_severity")]
        report = {
            "files": [f.scan for f in staged],
            "max_severity": max(worst, key=Severity.parse) if worst else None,
            "policy": {"passed": not reasons, "reasons": reasons},
        }
        version_id = conn.execute(
            t.versions.insert().values(
                model_id=model_id,
                name=session.version,
                state=state,
                state_reason="; ".join(reasons) or "passed the namespace policy",
                scan_report=json.dumps(report),
                signature=signature,
                created_by=actor,
                created_at=now,
            )
        ).inserted_primary_key
        assert version_id is not None
        return int(version_id[0])
