"""Key-encryption keys for the registry: a local key file that a running server follows,
and rotation that re-wraps every blob's data key without re-encrypting any data.

Rotation is online and resumable: a new key version is made current, then blobs still
wrapped under an older version are re-wrapped in batches, each batch its own transaction
with an optimistic check on the row's key version, so a concurrent upload or a second
rotation never loses a key. Interrupted, it is resumed by running it again with
``resume=True``, which re-wraps what is left without creating another version.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

from bastion.audit import AuditEvent, AuditSink
from bastion.crypto.kek import KeyProvider, KeyRef, LocalKeyFileProvider, WrappedKey, rewrap
from bastion.registry import tables as t
from bastion.registry.blobs import blob_context

__all__ = ["FollowedKeyFile", "RotationResult", "rotate_keys"]


class FollowedKeyFile:
    """A :class:`LocalKeyFileProvider` that re-reads its file when it changes on disk, so a
    rotation done by ``bastion keys rotate`` is seen by the running server at once."""

    name = "local"

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp = -1
        self._provider = self._fresh()

    def _fresh(self) -> LocalKeyFileProvider:
        with self._lock:
            stamp = os.stat(self._path).st_mtime_ns
            if stamp != self._stamp:
                self._provider = LocalKeyFileProvider.open(self._path)
                self._stamp = stamp
            return self._provider

    def current(self) -> KeyRef:
        return self._fresh().current()

    def wrap(self, data_key: bytes, *, context: bytes) -> WrappedKey:
        return self._fresh().wrap(data_key, context=context)

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        return self._fresh().unwrap(wrapped, context=context)

    def rotate(self) -> KeyRef:
        ref = self._fresh().rotate()
        self._fresh()
        return ref


@dataclass(frozen=True, slots=True)
class RotationResult:
    current: KeyRef
    rewrapped: int
    remaining: int


def rotate_keys(
    engine: Engine,
    provider: KeyProvider,
    audit: AuditSink,
    *,
    actor: str,
    resume: bool = False,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    limit: int | None = None,
) -> RotationResult:
    """Make a new KEK version current (unless ``resume``) and re-wrap every data key under
    an older one. ``limit`` stops after that many blobs (to test resumption)."""
    ref = provider.current() if resume else provider.rotate()
    done = 0
    while limit is None or done < limit:
        take = batch if limit is None else min(batch, limit - done)
        with engine.begin() as conn:
            rows = conn.execute(
                sa.select(t.blobs.c.id, t.blobs.c.wrapped_key, t.blobs.c.key_version)
                .where(sa.or_(t.blobs.c.key_version != ref.version, t.blobs.c.key_id != ref.key_id))
                .order_by(t.blobs.c.id)
                .limit(take)
            ).all()
            for row in rows:
                fresh = rewrap(
                    WrappedKey.from_bytes(row.wrapped_key), provider, context=blob_context(row.id)
                )
                conn.execute(
                    t.blobs.update()
                    .where(t.blobs.c.id == row.id, t.blobs.c.key_version == row.key_version)
                    .values(
                        wrapped_key=fresh.to_bytes(), key_id=fresh.key_id, key_version=fresh.version
                    )
                )
        done += len(rows)
        if progress is not None:
            progress(done)
        if len(rows) < take:
            break
    with engine.connect() as conn:
        remaining = conn.execute(
            sa.select(sa.func.count())
            .select_from(t.blobs)
            .where(sa.or_(t.blobs.c.key_version != ref.version, t.blobs.c.key_id != ref.key_id))
        ).scalar_one()
    audit.emit(
        AuditEvent(
            action="key.rotate",
            actor=actor,
            resource=f"kek:{ref.key_id}",
            details={
                "version": ref.version,
                "rewrapped": done,
                "remaining": remaining,
                "resumed": resume,
            },
        )
    )
    return RotationResult(ref, done, int(remaining))
