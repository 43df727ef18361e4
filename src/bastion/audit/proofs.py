"""Inclusion and consistency proofs served from the database, and their offline check.

A proof is a small JSON document: the signed checkpoint(s) it refers to and the sibling
hashes, plus (for inclusion) the entry's canonical bytes. Anyone holding the log's
verifier key can check it with :func:`check_inclusion` / :func:`check_consistency`, or
with the stand-alone procedure in docs/audit.md; no database is needed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from bastion.audit import tables as t
from bastion.audit.checkpoint import NoteVerifier
from bastion.audit.merkle import (
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from bastion.errors import BastionError, VerificationError


class ProofError(BastionError):
    """A proof cannot be produced for the request."""

    hint = "Pick an entry and checkpoints that exist (bastion audit search, audit verify)."


class _DbSubtrees:
    """Complete-subtree hashes from stored leaves and tiles (see tables.TILE_HEIGHT)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _level(self, level: int, start: int, end: int) -> list[bytes]:
        if level == 0:
            c = t.entries.c
            query = sa.select(c.leaf_hash).where(c.idx >= start, c.idx < end).order_by(c.idx)
        else:
            n = t.nodes.c
            query = (
                sa.select(n.hash)
                .where(n.level == level, n.idx >= start, n.idx < end)
                .order_by(n.idx)
            )
        hashes = [bytes(h) for h in self.conn.execute(query).scalars()]
        if len(hashes) != end - start:
            raise VerificationError(f"stored hashes are missing at level {level}")
        return hashes

    def subtree(self, level: int, index: int) -> bytes:
        stored = level - level % t.TILE_HEIGHT
        span = 1 << (level - stored)
        hashes = self._level(stored, index * span, (index + 1) * span)
        while len(hashes) > 1:
            hashes = [node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        return hashes[0]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: object) -> bytes:
    if not isinstance(text, str):
        raise VerificationError("proof field is not a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise VerificationError("proof field is not base64") from None


def _note(conn: Connection, size: int | None) -> tuple[int, str]:
    c = t.checkpoints.c
    query = sa.select(c.size, c.note)
    query = query.order_by(c.size.desc()).limit(1) if size is None else query.where(c.size == size)
    row = conn.execute(query).first()
    if row is None:
        what = "no checkpoint yet" if size is None else f"no checkpoint of size {size}"
        raise ProofError(f"{what}: sign one with `bastion audit checkpoint`")
    return int(row.size), str(row.note)


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    entry: bytes
    checkpoint: str  # the signed note whose tree contains the entry
    hashes: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "inclusion",
            "index": self.index,
            "entry": _b64(self.entry),
            "checkpoint": self.checkpoint,
            "proof": [_b64(h) for h in self.hashes],
        }


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    old: str
    new: str
    hashes: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "consistency",
            "old": self.old,
            "new": self.new,
            "proof": [_b64(h) for h in self.hashes],
        }


def prove_inclusion(engine: Engine, index: int, *, checkpoint: int | None = None) -> InclusionProof:
    """Proof that entry ``index`` is in the checkpoint of size ``checkpoint`` (default:
    the latest)."""
    with engine.connect() as conn:
        size, note = _note(conn, checkpoint)
        if not 0 <= index < size:
            raise ProofError(f"entry {index} is not covered by the checkpoint of size {size}")
        entry = conn.execute(sa.select(t.entries.c.entry).where(t.entries.c.idx == index))
        data = entry.scalar()
        if data is None:
            raise VerificationError(f"entry {index} is missing: run bastion audit verify")
        hashes = inclusion_proof(_DbSubtrees(conn), index, size)
    return InclusionProof(index, bytes(data), note, tuple(hashes))


def prove_consistency(
    engine: Engine, old_size: int, new_size: int | None = None
) -> ConsistencyProof:
    """Proof that the checkpoint of ``new_size`` (default: latest) extends ``old_size``."""
    with engine.connect() as conn:
        old_size, old_note = _note(conn, old_size)
        new_size, new_note = _note(conn, new_size)
        if old_size > new_size:
            raise ProofError("the old checkpoint must not be larger than the new one")
        hashes = consistency_proof(_DbSubtrees(conn), old_size, new_size)
    return ConsistencyProof(old_note, new_note, tuple(hashes))


def _entry_json(entry: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(entry)
    except (ValueError, UnicodeDecodeError) as exc:
        raise VerificationError(f"the proven entry is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise VerificationError("the proven entry is not a JSON object")
    return parsed


def check_proof(document: str | bytes, verifier: NoteVerifier) -> dict[str, Any]:
    """Check a proof document offline; returns a summary or raises VerificationError."""
    try:
        doc = json.loads(document)
        if not isinstance(doc, dict) or not isinstance(doc.get("proof"), list):
            raise ValueError("not a proof document")
        hashes = [_unb64(h) for h in doc["proof"]]
        kind = doc.get("type")
    except ValueError as exc:
        raise VerificationError(f"malformed proof: {exc}") from exc
    if kind == "inclusion":
        cp = verifier.verify(str(doc.get("checkpoint")), origin=verifier.name)
        entry, index = _unb64(doc.get("entry")), doc.get("index")
        parsed = _entry_json(entry)
        if not isinstance(index, int) or parsed.get("index") != index:
            raise VerificationError("the entry's bytes do not name the proven index")
        verify_inclusion(leaf_hash(entry), index, cp.size, hashes, cp.root)
        return {"type": kind, "index": index, "size": cp.size, "entry": parsed}
    if kind == "consistency":
        old = verifier.verify(str(doc.get("old")), origin=verifier.name)
        new = verifier.verify(str(doc.get("new")), origin=verifier.name)
        verify_consistency(old.size, new.size, old.root, new.root, hashes)
        return {"type": kind, "old_size": old.size, "new_size": new.size}
    raise VerificationError(f"unknown proof type {kind!r}")


def latest_checkpoint(engine: Engine) -> str:
    """The newest signed checkpoint note."""
    with engine.connect() as conn:
        return _note(conn, None)[1]
