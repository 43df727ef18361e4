"""Recompute the whole tree from the stored entries and check every signed checkpoint.

What each check catches (the first bad entry is named):

* an entry whose bytes do not hash to its stored leaf hash: an edited entry;
* an entry whose index (inside the hashed bytes) differs from its row: rows moved,
  swapped, or shifted to make room for an inserted one;
* a missing index: a deleted entry; fewer entries than a checkpoint covers: truncation;
* search columns that disagree with the hashed bytes: an edited column;
* a signed checkpoint whose root differs from the recomputed root: entries changed and
  re-hashed by someone without the signing key (the entries after the last good
  checkpoint are then suspect); a checkpoint that is not signed by the log's key or
  whose columns disagree with its signed text: a replaced checkpoint;
* stored subtree hashes or the tree's right edge that disagree with the recomputation.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from bastion.audit import tables as t
from bastion.audit._bulk import column_time, iter_entries
from bastion.audit.checkpoint import Checkpoint, NoteVerifier
from bastion.audit.merkle import CompactRange, leaf_hash
from bastion.errors import VerificationError


class LogTamperedError(VerificationError):
    """The audit log does not match its own hashes or its signed checkpoints."""

    hint = "Treat the log as compromised from the named entry on; restore it from a backup."

    def __init__(self, message: str, *, first_bad: int, problems: Sequence[str]) -> None:
        super().__init__(message)
        self.first_bad = first_bad
        self.problems = tuple(problems)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    size: int
    root: bytes
    checkpoints: int  # signed checkpoints checked
    signed_size: int  # entries covered by the latest good checkpoint
    unsigned: int  # entries after it, not yet under a signature


class _Problems:
    """Problems pinned to one entry, and ranges a bad checkpoint root implicates."""

    def __init__(self) -> None:
        self.items: list[tuple[int, str]] = []
        self.ranges: list[tuple[int, int, str]] = []

    def add(self, index: int, message: str) -> None:
        if len(self.items) < 1000:
            self.items.append((index, message))

    def add_range(self, start: int, end: int, message: str) -> None:
        self.ranges.append((start, end, message))

    def resolved(self) -> list[tuple[int, str]]:
        """Pinned problems, plus each range no pinned problem inside it explains."""
        found = list(self.items)
        for start, end, message in self.ranges:
            if not any(start <= i < end for i, _ in self.items):
                found.append((start, message))
        return sorted(found, key=lambda p: p[0])


_COLUMNS = ("action", "actor", "outcome", "resource", "source")


def _check_row(row: tuple[Any, ...], expected: int, dialect: str, problems: _Problems) -> bytes:
    """Check one row; returns its recomputed leaf hash."""
    _idx, stored_leaf, when, action, actor, outcome, resource, source, entry = row
    entry = bytes(entry)
    leaf = leaf_hash(entry)
    if leaf != bytes(stored_leaf):
        problems.add(expected, f"entry {expected} was edited: it does not match its leaf hash")
    try:
        obj = json.loads(entry)
        event = obj["event"]
        if obj["index"] != expected:
            problems.add(expected, f"entry {expected} holds entry {obj['index']}: rows moved")
        values = (action, actor, outcome, resource, source)
        bad = [k for k, v in zip(_COLUMNS, values, strict=True) if event.get(k) != v]
        if event.get("time") != column_time(dialect, when):
            bad.append("time")
        if bad:
            problems.add(expected, f"entry {expected}: column {', '.join(bad)} was edited")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problems.add(expected, f"entry {expected} is not a valid audit record: {exc}")
    return leaf


def _scan(
    conn: Connection, roots_at: set[int], problems: _Problems
) -> tuple[CompactRange, dict[int, bytes], dict[tuple[int, int], bytes]]:
    edge = CompactRange()
    roots: dict[int, bytes] = {}
    computed_nodes: dict[tuple[int, int], bytes] = {}
    if 0 in roots_at:
        roots[0] = edge.root()
    dialect = conn.dialect.name
    tile = t.TILE_HEIGHT
    for row in iter_entries(conn):
        expected = edge.size
        if row[0] != expected:
            what = "deleted" if row[0] > expected else "duplicated"
            problems.add(expected, f"entry {expected} was {what} (next row is {row[0]})")
        for level, index, h in edge.append(_check_row(row, expected, dialect, problems)):
            if level % tile == 0:
                computed_nodes[(level, index)] = h
        if edge.size in roots_at:
            roots[edge.size] = edge.root()
    return edge, roots, computed_nodes


def _check_nodes(
    conn: Connection, computed: dict[tuple[int, int], bytes], problems: _Problems
) -> None:
    stored = {(r.level, r.idx): bytes(r.hash) for r in conn.execute(sa.select(t.nodes))}
    for key in sorted(set(stored) | set(computed), key=lambda k: k[1] << k[0]):
        if stored.get(key) != computed.get(key):
            level, index = key
            problems.add_range(
                index << level,
                (index + 1) << level,
                f"stored subtree hash at level {level} covering entry {index << level} differs",
            )


def _check_state(conn: Connection, edge: CompactRange, problems: _Problems) -> None:
    row = conn.execute(sa.select(t.state.c.size, t.state.c.edge)).first()
    if row is None:
        problems.add(0, "the tree's state row was deleted")
    elif row.size != edge.size or bytes(row.edge) != edge.pack():
        low, high = sorted((int(row.size), edge.size))
        problems.add_range(
            low, high + 1, f"the tree state says {row.size} entries, the table holds {edge.size}"
        )


def _check_checkpoints(
    rows: Sequence[sa.Row[tuple[object, ...]]],
    extra: Iterable[str],
    verifier: NoteVerifier,
    edge: CompactRange,
    roots: dict[int, bytes],
    problems: _Problems,
) -> tuple[int, int]:
    checked, good_size = 0, 0
    notes = [(str(r.note), int(r.size), bytes(r.root)) for r in rows]
    notes += [(n, -1, b"") for n in extra]
    for note, size, root in notes:
        where = f"checkpoint {size}" if size >= 0 else "the given checkpoint"
        try:
            cp: Checkpoint = verifier.verify(note, origin=verifier.name)
        except VerificationError as exc:
            problems.add(max(size, 0), f"{where} was replaced: {exc.message}")
            continue
        checked += 1
        if size >= 0 and (cp.size != size or cp.root != root):
            problems.add(size, f"{where}: its columns disagree with its signed text")
        if cp.size > edge.size:
            problems.add(edge.size, f"log truncated: a checkpoint covers {cp.size} entries, "
                         f"the table holds {edge.size}")  # fmt: skip
        elif roots.get(cp.size) != cp.root:
            start = good_size if good_size < cp.size else 0
            problems.add_range(
                start,
                cp.size,
                f"entries {start} to {cp.size - 1} were changed and re-hashed after "
                f"checkpoint {cp.size} was signed",
            )
        else:
            good_size = max(good_size, cp.size)
    return checked, good_size


def verify_log(
    engine: Engine, verifier: NoteVerifier, *, checkpoints: Iterable[str] = ()
) -> VerifyReport:
    """Check the whole log; returns a report or raises :class:`LogTamperedError`.

    ``checkpoints`` are signed notes kept outside the database (a copy sent to a SIEM,
    a witness): they protect against someone who deletes the stored checkpoints too.
    """
    extra = list(checkpoints)
    problems = _Problems()
    with engine.connect() as conn:
        cp_rows = list(conn.execute(sa.select(t.checkpoints).order_by(t.checkpoints.c.size)))
        roots_at = {int(r.size) for r in cp_rows}
        for note in extra:
            with contextlib.suppress(VerificationError):  # reported below
                roots_at.add(verifier.verify(note).size)
        edge, roots, computed = _scan(conn, roots_at, problems)
        _check_nodes(conn, computed, problems)
        _check_state(conn, edge, problems)
    checked, good_size = _check_checkpoints(cp_rows, extra, verifier, edge, roots, problems)
    found = problems.resolved()
    if found:
        first = found[0][0]
        messages = [m for _, m in found]
        raise LogTamperedError(
            f"audit log tampered: first bad entry {first}: {messages[0]}",
            first_bad=first,
            problems=messages,
        )
    return VerifyReport(edge.size, edge.root(), checked, good_size, edge.size - good_size)
