"""``bastion backup create``: one consistent, signed snapshot of a data directory and its
database, written while the server runs.

The database is read in one transaction (REPEATABLE READ, read only, on PostgreSQL; one
SQLite read transaction, which WAL keeps at a fixed snapshot while the server writes).
Blob files are never decrypted: they are copied as stored, named by the SHA-256 of their
bytes, and a blob the destination already holds is not copied again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from bastion.audit import AuditEvent
from bastion.audit.checkpoint import NoteSigner
from bastion.audit.local import KEY_FILE as AUDIT_KEY_FILE
from bastion.audit.local import ORIGIN as AUDIT_ORIGIN
from bastion.audit.log import AuditLog
from bastion.backup import _rows, _seal
from bastion.backup.base import (
    PUBLIC_FILES,
    SECRET_FILES,
    BackupError,
    Manifest,
    signing_key,
    snapshot_dir,
)
from bastion.crypto import keys as signing

__all__ = ["CreateResult", "create_backup", "sha256_file"]

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class CreateResult:
    snapshot: str
    path: Path
    tables: dict[str, int]
    blobs: int
    blobs_copied: int
    bytes_copied: int
    bytes_reused: int
    audit_size: int
    public_key: bytes  # PEM of the key that signed the manifest


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def blob_file(data_dir: Path, blob_id: str) -> Path:
    """Where the registry's blob store keeps ``blob_id`` (see registry.blobs.BlobStore.path)."""
    if len(blob_id) != 32 or not all(c in "0123456789abcdef" for c in blob_id):
        raise BackupError(f"not a blob id: {blob_id!r}")
    return data_dir / "blobs" / blob_id[:2] / blob_id


@contextmanager
def read_snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection that sees the database at one point in time until it is closed."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            frozen = conn.execution_options(isolation_level="REPEATABLE READ")
            with frozen.begin():
                frozen.exec_driver_sql("SET TRANSACTION READ ONLY")
                yield frozen
        else:
            conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                conn.rollback()


@dataclass(frozen=True, slots=True)
class _Copied:
    blobs: dict[str, str]
    copied: int
    bytes_copied: int
    bytes_reused: int


def create_backup(
    data_dir: Path,
    dest: Path,
    *,
    engine: Engine,
    passphrase: bytes,
    settings_file: Path | None = None,
    actor: str = "cli",
) -> CreateResult:
    """Write a new snapshot of ``data_dir`` and the database behind ``engine`` into ``dest``."""
    if not data_dir.is_dir():
        raise BackupError(f"no data directory at {data_dir}")
    key = signing_key(data_dir)
    now = datetime.now(UTC)
    snapshot = now.strftime("%Y%m%dT%H%M%S%fZ")
    secrets = _secrets(data_dir, settings_file)
    sealed = _seal.seal(secrets, passphrase)  # checks the passphrase before anything is written
    signer = NoteSigner.load_or_create(data_dir / AUDIT_KEY_FILE, AUDIT_ORIGIN)
    _record(engine, signer, actor, snapshot, secrets)
    # The dump holds password hashes and token digests: only the owner may read a backup.
    for folder in (dest, dest / "snapshots"):
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = dest / "snapshots" / f".{snapshot}.part"
    work.mkdir(mode=0o700)
    (work / "db").mkdir(mode=0o700)
    try:
        with read_snapshot(engine) as conn:
            tables = _rows.dump_tables(conn, work / "db")
            heads = _heads(conn)
            dialect = conn.dialect.name
        blob_ids = [str(r["id"]) for r in _dumped(work, "registry_blobs")]
        copied = _copy_blobs(data_dir, dest, blob_ids)
        (work / "keys.sealed").write_bytes(sealed)
        for name in PUBLIC_FILES:
            if (data_dir / name).is_file():
                (work / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(data_dir / name, work / name)
        audit = _audit_section(work, signer, tables.get("audit_entries", 0))
        manifest = Manifest(
            snapshot=snapshot,
            created_at=now.isoformat(),
            dialect=dialect,
            heads=heads,
            tables=tables,
            blobs=copied.blobs,
            files=_digests(work),
            audit=audit,
            sealed=tuple(sorted(secrets)),
        )
        public = _sign(work, key, manifest)
        os.replace(work, dest / "snapshots" / snapshot)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    _write_latest(dest, snapshot)
    return CreateResult(
        snapshot=snapshot,
        path=dest / "snapshots" / snapshot,
        tables=tables,
        blobs=len(copied.blobs),
        blobs_copied=copied.copied,
        bytes_copied=copied.bytes_copied,
        bytes_reused=copied.bytes_reused,
        audit_size=int(str(audit["size"])),
        public_key=public,
    )


def _record(
    engine: Engine, signer: NoteSigner, actor: str, snapshot: str, secrets: dict[str, bytes]
) -> None:
    """The backup is itself an audited change; the checkpoint signed here covers it, so the
    snapshot's audit log ends in a signed tree."""
    with AuditLog(engine, signer=signer) as log:
        log.emit(
            AuditEvent(
                action="backup.create",
                actor=actor,
                resource=f"backup:{snapshot}",
                source="cli",
                details={"sealed": ", ".join(sorted(secrets))},
            )
        )
        log.checkpoint()


def _digests(work: Path) -> dict[str, str]:
    return {
        p.relative_to(work).as_posix(): sha256_file(p)
        for p in sorted(work.rglob("*"))
        if p.is_file()
    }


def _sign(work: Path, key: signing.PrivateKey, manifest: Manifest) -> bytes:
    """Write the manifest, its signature and the public key; returns the key's PEM."""
    body = manifest.to_bytes()
    (work / "manifest.json").write_bytes(body)
    (work / "manifest.sig").write_bytes(base64.b64encode(signing.sign(key, body)) + b"\n")
    public = signing.public_pem(key)
    (work / "signer.pub").write_bytes(public)
    return public


def _secrets(data_dir: Path, settings_file: Path | None) -> dict[str, bytes]:
    found = {n: (data_dir / n).read_bytes() for n in SECRET_FILES if (data_dir / n).is_file()}
    if settings_file is not None:
        found["settings.toml"] = settings_file.read_bytes()
    return found


def _heads(conn: Connection) -> tuple[str, ...]:
    names = sa.inspect(conn).get_table_names()
    if "alembic_version" not in names:
        return ()
    rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
    return tuple(sorted(str(r) for r in rows))


def _dumped(work: Path, table: str) -> Iterator[dict[str, object]]:
    path = work / "db" / f"{table}.jsonl"
    if path.is_file():
        yield from _rows.read_rows(path)


def _previous_blobs(dest: Path) -> dict[str, str]:
    """The blob map of the newest snapshot already in ``dest`` (blob files never change)."""
    try:
        previous = snapshot_dir(dest)
    except BackupError:
        return {}
    try:
        doc = json.loads((previous / "manifest.json").read_bytes())
        return {str(k): str(v) for k, v in doc["blobs"].items()}
    except (OSError, ValueError, KeyError, AttributeError):
        return {}


def _copy_blobs(data_dir: Path, dest: Path, blob_ids: list[str]) -> _Copied:
    pool = dest / "blobs"
    pool.mkdir(parents=True, exist_ok=True, mode=0o700)
    known = _previous_blobs(dest)
    source_of: dict[str, str] = {}
    copied = bytes_copied = bytes_reused = 0
    for blob_id in blob_ids:
        source = blob_file(data_dir, blob_id)
        if not source.is_file():
            raise BackupError(
                f"blob {blob_id} is in the database but not on disk",
                hint="A model may have been deleted during the backup: run it again.",
            )
        digest = known.get(blob_id)
        reusable = digest is not None and (pool / digest).is_file()
        if digest is not None and reusable and _same_size(pool / digest, source):
            source_of[blob_id] = digest
            bytes_reused += source.stat().st_size
            continue
        digest, size, new = _copy_one(source, pool)
        source_of[blob_id] = digest
        if new:
            copied += 1
            bytes_copied += size
        else:
            bytes_reused += size
    return _Copied(source_of, copied, bytes_copied, bytes_reused)


def _same_size(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size


def _copy_one(source: Path, pool: Path) -> tuple[str, int, bool]:
    """Copy ``source`` into the pool under its digest; False if the pool had it."""
    tmp = pool / f".{source.name}.part"
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as src, tmp.open("wb") as out:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    name = digest.hexdigest()
    if (pool / name).is_file():
        tmp.unlink()
        return name, size, False
    os.replace(tmp, pool / name)
    return name, size, True


def _audit_section(work: Path, signer: NoteSigner, entries: int) -> dict[str, object]:
    latest: dict[str, object] | None = None
    for row in _dumped(work, "audit_checkpoints"):
        if latest is None or int(str(row["size"])) > int(str(latest["size"])):
            latest = row
    return {
        "origin": signer.name,
        "vkey": signer.vkey(),
        "size": entries,
        "checkpoint": None if latest is None else str(latest["note"]),
    }


def _write_latest(dest: Path, snapshot: str) -> None:
    tmp = dest / ".LATEST.part"
    tmp.write_text(snapshot + "\n", encoding="ascii")
    os.replace(tmp, dest / "LATEST")
