"""The log's tables. Rows are only ever inserted; nothing in Bastion updates or
deletes an entry (``audit verify`` notices anyone who does)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
)

from bastion.db.base import Base

#: Complete subtrees are stored at every TILE_HEIGHT-th level (like C2SP tlog-tiles),
#: so any subtree hash a proof needs is at most 2**TILE_HEIGHT stored hashes away.
TILE_HEIGHT = 8

#: One row per event: its position, leaf hash, searchable columns and the canonical
#: bytes that were hashed (the columns are checked against those bytes by verify).
entries = Table(
    "audit_entries",
    Base.metadata,
    Column("idx", BigInteger(), primary_key=True, autoincrement=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("action", String(128), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("resource", String(512), nullable=True),
    Column("source", String(256), nullable=True),
    Column("entry", LargeBinary(), nullable=False),
    Index("ix_audit_entries_actor_time", "actor", "time"),
    Index("ix_audit_entries_action_time", "action", "time"),
    Index("ix_audit_entries_time", "time"),
)

#: Hashes of complete subtrees at levels TILE_HEIGHT, 2*TILE_HEIGHT, ... (level 0 is
#: entries.leaf_hash): they make proofs cheap without reading the whole log.
nodes = Table(
    "audit_nodes",
    Base.metadata,
    Column("level", SmallInteger(), nullable=False),
    Column("idx", BigInteger(), nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("level", "idx"),
)

#: One row (id 1): the tree size and its right edge (the compact range), so an append
#: hashes O(log n) nodes and never reads old entries. Writers lock this row.
state = Table(
    "audit_state",
    Base.metadata,
    Column("id", Integer(), primary_key=True, autoincrement=False),
    Column("size", BigInteger(), nullable=False),
    Column("edge", LargeBinary(), nullable=False),
)

#: Signed checkpoints (C2SP signed notes), one per tree size.
checkpoints = Table(
    "audit_checkpoints",
    Base.metadata,
    Column("size", BigInteger(), primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text(), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
