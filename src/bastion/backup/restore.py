"""``bastion backup restore``: a verified snapshot into an empty data directory and an
empty database, then proof that the restored audit log continues the backed-up tree.

The database is migrated to the snapshot's schema revisions, the rows are loaded, then it
is migrated to this version's heads. A ``backup.restore`` event is appended and signed,
and a consistency proof from the backed-up checkpoint to the new one is checked, followed
by a full ``verify_log``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

from bastion.audit import AuditEvent
from bastion.audit.checkpoint import NoteSigner, NoteVerifier
from bastion.audit.local import KEY_FILE as AUDIT_KEY_FILE
from bastion.audit.log import AuditLog
from bastion.audit.proofs import check_proof, prove_consistency
from bastion.audit.verify import verify_log
from bastion.backup import _rows, _seal
from bastion.backup.base import PUBLIC_FILES, BackupError, BackupVerificationError
from bastion.backup.create import blob_file, sha256_file
from bastion.backup.verify import verify_backup
from bastion.db import migrate
from bastion.errors import BastionError

__all__ = ["RestoreResult", "restore_backup"]


@dataclass(frozen=True, slots=True)
class RestoreResult:
    snapshot: str
    tables: dict[str, int]
    blobs: int
    restored_files: tuple[str, ...]
    audit_size: int  # entries after the restore event
    continued_from: int  # the backed-up checkpoint the new tree was proven to extend


def restore_backup(
    dest: Path,
    data_dir: Path,
    *,
    engine: Engine,
    public_key: bytes,
    passphrase: bytes,
    snapshot: str | None = None,
    actor: str = "cli",
) -> RestoreResult:
    """Restore a snapshot of ``dest`` into the empty ``data_dir`` and the empty database
    behind ``engine`` (the data directory's SQLite file, or another database)."""
    checked = verify_backup(dest, public_key=public_key, snapshot=snapshot)
    manifest, path = checked.manifest, checked.path
    if data_dir.exists() and any(p.name != "bastion.db" for p in data_dir.iterdir()):
        raise BackupError(
            f"{data_dir} is not empty", hint="Restore into a new, empty data directory."
        )
    secrets = _seal.unseal((path / "keys.sealed").read_bytes(), passphrase)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(data_dir, 0o700)
    _check_empty(engine)
    for name, data in secrets.items():
        _write_private(data_dir, name, data)
    for name in PUBLIC_FILES:
        if (path / name).is_file():
            shutil.copyfile(path / name, data_dir / name)
    (data_dir / "blobs").mkdir(mode=0o700, exist_ok=True)
    for blob_id, digest in manifest.blobs.items():
        target = blob_file(data_dir, blob_id)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(dest / "blobs" / digest, target)
        os.chmod(target, 0o600)
        if sha256_file(target) != digest:
            raise BackupVerificationError(f"blob {blob_id} changed while it was restored")
    _load_database(engine, path, manifest.heads, manifest.tables)
    size, continued = _continue_audit(engine, data_dir, manifest.audit, manifest.snapshot, actor)
    return RestoreResult(
        snapshot=manifest.snapshot,
        tables=manifest.tables,
        blobs=len(manifest.blobs),
        restored_files=tuple(sorted(secrets)),
        audit_size=size,
        continued_from=continued,
    )


def _write_private(data_dir: Path, name: str, data: bytes) -> None:
    parts = Path(name).parts
    if not parts or Path(name).is_absolute() or ".." in parts:
        raise BackupVerificationError(f"the key bundle names a path outside the data dir: {name}")
    target = data_dir / name
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _check_empty(engine: Engine) -> None:
    with engine.connect() as conn:
        meta = _rows.reflect(conn)
        for table in meta.sorted_tables:
            if table.name in _rows.SKIPPED_TABLES or table.name in _SEEDED:
                continue
            if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar():
                raise BackupError(
                    f"the target database is not empty (table {table.name} has rows)",
                    hint="Restore into a new, empty database (or drop this one first).",
                )


#: Tables the migrations fill on an empty database; a restore replaces their rows.
_SEEDED = frozenset({"bastion_meta", "audit_state"})


def _load_database(
    engine: Engine, path: Path, heads: tuple[str, ...], tables: dict[str, int]
) -> None:
    try:
        for head in heads:
            migrate(engine, target=head)
    except Exception as exc:  # alembic raises its own errors for unknown revisions
        raise BackupError(
            f"cannot create the backed-up schema ({', '.join(heads)}): {exc}",
            hint="Restore with the Bastion version that made the backup, or a newer one.",
        ) from exc
    with engine.begin() as conn:
        _rows.load_tables(conn, path / "db", tables)
    migrate(engine)


def _continue_audit(
    engine: Engine, data_dir: Path, audit: dict[str, object], snapshot: str, actor: str
) -> tuple[int, int]:
    origin, vkey = str(audit["origin"]), str(audit["vkey"])
    signer = NoteSigner.load_or_create(data_dir / AUDIT_KEY_FILE, origin)
    if signer.vkey() != vkey:
        raise BackupVerificationError("the restored audit log key is not the backed-up one")
    with AuditLog(engine, signer=signer) as log:
        log.emit(
            AuditEvent(
                action="backup.restore", actor=actor, resource=f"backup:{snapshot}", source="cli"
            )
        )
        log.checkpoint()
    verifier = NoteVerifier.from_vkey(vkey)
    note = audit.get("checkpoint")
    report = verify_log(engine, verifier, checkpoints=[] if note is None else [str(note)])
    if note is None:
        return report.size, 0
    old = verifier.verify(str(note), origin=origin)
    try:
        proof = prove_consistency(engine, old.size)
        check_proof(json.dumps(proof.to_json()), verifier)
    except BastionError as exc:
        raise BackupVerificationError(
            f"the restored audit log does not continue the backed-up tree: {exc}"
        ) from exc
    return report.size, old.size
