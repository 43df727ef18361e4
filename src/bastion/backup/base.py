"""The backup format, its manifest, its errors and its signing key.

A backup destination holds any number of snapshots and one pool of blobs::

    DEST/
      blobs/<sha256>              encrypted blob files exactly as stored, named by the
                                  SHA-256 of their (encrypted) bytes; shared by snapshots
      snapshots/<id>/
        manifest.json             what is in the snapshot, with every file's SHA-256
        manifest.sig              Ed25519 signature over manifest.json (base64)
        signer.pub                the signing public key (PEM), for convenience only:
                                  verification trusts the key the operator supplies
        db/<table>.jsonl          logical dump of every table (see _rows)
        keys.sealed               key material, sealed with the passphrase (see _seal)
        tls/cert.pem              the server certificate (public)
      LATEST                      id of the newest snapshot
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.crypto import keys as signing
from bastion.errors import BastionError, VerificationError

FORMAT = "bastion-backup/1"
SIGNING_KEY = "backup-signing.key"
SIGNING_PUB = "backup-signing.pub"
#: Secrets in the data directory a restore needs; sealed, never copied in clear.
SECRET_FILES = ("kek.json", "audit-log.key", "identity.key", "tls/key.pem", SIGNING_KEY)
#: Public files copied as they are.
PUBLIC_FILES = ("tls/cert.pem", SIGNING_PUB)


class BackupError(BastionError):
    """A backup cannot be created or restored."""

    hint = "Read the message; `bastion backup verify DEST` checks a backup without restoring."


class BackupVerificationError(VerificationError):
    """A backup does not match its signed manifest, or its audit log its checkpoint."""

    hint = "Do not restore this backup; use an older snapshot and find out who changed it."


@dataclass(frozen=True, slots=True)
class Manifest:
    snapshot: str
    created_at: str
    dialect: str
    heads: tuple[str, ...]
    tables: dict[str, int]
    blobs: dict[str, str]  # blob id -> SHA-256 of the stored (encrypted) file
    files: dict[str, str]  # path inside the snapshot -> SHA-256
    audit: dict[str, Any]  # origin, vkey, checkpoint (signed note) and size
    sealed: tuple[str, ...]  # names of the files in keys.sealed
    extra: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        doc = {
            "format": FORMAT,
            "snapshot": self.snapshot,
            "created_at": self.created_at,
            "database": {"dialect": self.dialect, "heads": list(self.heads), "tables": self.tables},
            "blobs": self.blobs,
            "files": self.files,
            "audit": self.audit,
            "sealed": list(self.sealed),
            "extra": self.extra,
        }
        return json.dumps(doc, sort_keys=True, indent=1).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} manifest")
            db = doc["database"]
            return cls(
                snapshot=str(doc["snapshot"]),
                created_at=str(doc["created_at"]),
                dialect=str(db["dialect"]),
                heads=tuple(str(h) for h in db["heads"]),
                tables={str(k): int(v) for k, v in db["tables"].items()},
                blobs={str(k): str(v) for k, v in doc["blobs"].items()},
                files={str(k): str(v) for k, v in doc["files"].items()},
                audit=dict(doc["audit"]),
                sealed=tuple(str(s) for s in doc["sealed"]),
                extra=dict(doc.get("extra", {})),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupVerificationError(f"the manifest is malformed: {exc}") from None


def snapshot_dir(dest: Path, snapshot: str | None = None) -> Path:
    """The directory of ``snapshot`` in ``dest`` (default: the newest)."""
    if snapshot is None:
        latest = dest / "LATEST"
        if not latest.is_file():
            raise BackupError(f"{dest} holds no backup (no LATEST file)")
        snapshot = latest.read_text(encoding="ascii").strip()
    if not snapshot or "/" in snapshot or snapshot.startswith("."):
        raise BackupError(f"not a snapshot id: {snapshot!r}")
    path = dest / "snapshots" / snapshot
    if not (path / "manifest.json").is_file():
        raise BackupError(f"no snapshot {snapshot!r} in {dest}")
    return path


def signing_key(data_dir: Path) -> signing.PrivateKey:
    """The data directory's backup signing key (Ed25519), created 0600 if missing."""
    path = data_dir / SIGNING_KEY
    if not path.exists():
        key = signing.generate("ed25519")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(signing.private_pem(key, passphrase=None))
        (data_dir / SIGNING_PUB).write_bytes(signing.public_pem(key))
        return key
    key = signing.load_private(path.read_bytes(), passphrase=None)
    if not (data_dir / SIGNING_PUB).exists():
        (data_dir / SIGNING_PUB).write_bytes(signing.public_pem(key))
    return key
