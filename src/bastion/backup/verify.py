"""``bastion backup verify``: check a snapshot without restoring it.

In order: the manifest's signature (against the public key the operator trusts, never the
one inside the backup), every file's SHA-256, every blob the database dump refers to
(present, and its digest), and the audit log: the dumped entries are re-hashed into the
Merkle tree, and every signed checkpoint must match the recomputed root at its size.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path

from bastion.audit.checkpoint import NoteVerifier
from bastion.audit.merkle import CompactRange, leaf_hash
from bastion.backup import _rows
from bastion.backup.base import BackupVerificationError, Manifest, snapshot_dir
from bastion.backup.create import sha256_file
from bastion.crypto import keys as signing
from bastion.errors import VerificationError

__all__ = ["VerifyResult", "load_verified", "verify_backup"]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    snapshot: str
    path: Path
    manifest: Manifest
    files: int
    blobs: int
    audit_size: int
    checkpoint_size: int  # entries under the latest signed checkpoint


def load_verified(dest: Path, *, public_key: bytes, snapshot: str | None = None) -> Manifest:
    """The snapshot's manifest, once its signature checks out with ``public_key`` (PEM)."""
    path = snapshot_dir(dest, snapshot)
    body = (path / "manifest.json").read_bytes()
    try:
        signature = base64.b64decode((path / "manifest.sig").read_bytes().strip(), validate=True)
    except (OSError, binascii.Error) as exc:
        raise BackupVerificationError(f"the manifest signature is unreadable: {exc}") from None
    try:
        signing.verify(signing.load_public(public_key), signature, body)
    except VerificationError as exc:
        raise BackupVerificationError(f"manifest signature: {exc}") from None
    return Manifest.from_bytes(body)


def verify_backup(dest: Path, *, public_key: bytes, snapshot: str | None = None) -> VerifyResult:
    """Check everything in a snapshot; returns what was checked or raises."""
    manifest = load_verified(dest, public_key=public_key, snapshot=snapshot)
    path = dest / "snapshots" / manifest.snapshot
    for name, digest in manifest.files.items():
        _check_file(path, name, digest)
    _check_listing(path, manifest)
    dumped = {str(r["id"]) for r in _dump(path, manifest, "registry_blobs")}
    if dumped != set(manifest.blobs):
        raise BackupVerificationError("the blob list does not match the database dump")
    for blob_id, digest in manifest.blobs.items():
        _check_file(dest / "blobs", digest, digest, what=f"blob {blob_id}")
    size, signed = _check_audit(path, manifest)
    return VerifyResult(
        snapshot=manifest.snapshot,
        path=path,
        manifest=manifest,
        files=len(manifest.files),
        blobs=len(manifest.blobs),
        audit_size=size,
        checkpoint_size=signed,
    )


def _check_file(root: Path, name: str, digest: str, *, what: str | None = None) -> None:
    parts = Path(name).parts
    if not parts or Path(name).is_absolute() or ".." in parts:
        raise BackupVerificationError(f"the manifest names a path outside the backup: {name!r}")
    target = root / name
    label = what or name
    if not target.is_file():
        raise BackupVerificationError(f"{label} is missing from the backup")
    if sha256_file(target) != digest:
        raise BackupVerificationError(f"{label} does not match its SHA-256 in the manifest")


def _check_listing(path: Path, manifest: Manifest) -> None:
    """Every dumped table has its file listed (and so digest-checked)."""
    for table in manifest.tables:
        if f"db/{table}.jsonl" not in manifest.files:
            raise BackupVerificationError(f"the dump of table {table} is not in the manifest")
    if "keys.sealed" not in manifest.files:
        raise BackupVerificationError("the sealed key bundle is not in the manifest")


def _dump(path: Path, manifest: Manifest, table: str) -> list[dict[str, object]]:
    if table not in manifest.tables:
        return []
    rows = list(_rows.read_rows(path / "db" / f"{table}.jsonl"))
    if len(rows) != manifest.tables[table]:
        raise BackupVerificationError(f"table {table} has a different row count than recorded")
    return rows


def _check_audit(path: Path, manifest: Manifest) -> tuple[int, int]:
    """Recompute the tree from the dumped entries; check every signed checkpoint."""
    verifier = NoteVerifier.from_vkey(str(manifest.audit["vkey"]))
    origin = str(manifest.audit["origin"])
    checkpoints = {int(str(r["size"])): r for r in _dump(path, manifest, "audit_checkpoints")}
    roots: dict[int, bytes] = {}
    edge = CompactRange()
    for expected, row in enumerate(_dump(path, manifest, "audit_entries")):
        entry = row["entry"]
        if not isinstance(entry, bytes) or row["idx"] != expected:
            raise BackupVerificationError(f"audit entry {expected} is missing or out of order")
        leaf = leaf_hash(entry)
        if leaf != row["leaf_hash"] or json.loads(entry).get("index") != expected:
            raise BackupVerificationError(f"audit entry {expected} does not match its hash")
        edge.append(leaf)
        if edge.size in checkpoints:
            roots[edge.size] = edge.root()
    signed = 0
    for size, row in sorted(checkpoints.items()):
        try:
            cp = verifier.verify(str(row["note"]), origin=origin)
        except VerificationError as exc:
            raise BackupVerificationError(f"audit checkpoint {size}: {exc}") from None
        if size not in roots or cp.size != size or cp.root != roots[size]:
            raise BackupVerificationError(
                f"the audit entries do not hash to the signed checkpoint of size {size}"
            )
        signed = size
    latest = manifest.audit.get("checkpoint")
    if latest is not None and verifier.verify(str(latest), origin=origin).size != signed:
        raise BackupVerificationError("the manifest's checkpoint is not the dump's latest")
    if edge.size != int(manifest.audit["size"]):
        raise BackupVerificationError("the audit log holds a different number of entries")
    return edge.size, signed
