"""The tamper-evident audit log: an :class:`AuditSink` backed by a Merkle tree in SQL.

``emit`` serialises the event in the caller's thread (cheap) and queues it; one writer
thread per process appends whole batches in one transaction. Each batch locks the
tree's state row first (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on
PostgreSQL), so several processes can append to one database and still build one tree.
An append hashes O(log n) nodes: it reads only the tree's right edge, never old entries.
Checkpoints are signed every ``checkpoint_every`` entries, every
``checkpoint_interval`` seconds while entries arrive, on :meth:`checkpoint` and on close.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine

from bastion.audit import tables as t
from bastion.audit._bulk import insert_entries, time_value
from bastion.audit.base import AuditEvent
from bastion.audit.canonical import entry_bytes, event_body, format_time
from bastion.audit.checkpoint import Checkpoint, NoteSigner
from bastion.audit.merkle import CompactRange, leaf_hash
from bastion.errors import BastionError

log = logging.getLogger(__name__)


class AuditWriteError(BastionError):
    """The audit log could not store events."""

    hint = "Check that the database is reachable and migrated (bastion audit verify)."


@dataclass(frozen=True, slots=True)
class _Pending:
    body: bytes
    event: AuditEvent
    time: str  # canonical UTC time text

    @classmethod
    def of(cls, event: AuditEvent) -> _Pending:
        return cls(event_body(event), event, format_time(event.time))


@dataclass(frozen=True, slots=True)
class _Marker:
    done: threading.Event
    stop: bool = False
    checkpoint: bool = False


def lock_state(conn: Connection) -> tuple[int, bytes]:
    """Begin the append transaction and lock the tree; returns (size, edge)."""
    query = sa.select(t.state.c.size, t.state.c.edge).where(t.state.c.id == 1)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise AuditWriteError("the audit tables are missing: run the database migrations")
    return int(row.size), bytes(row.edge)


class AuditLog:
    """Append-only, Merkle-tree audit log. Use as a context manager or call close()."""

    def __init__(
        self,
        engine: Engine,
        *,
        signer: NoteSigner,
        checkpoint_every: int = 1000,
        checkpoint_interval: float = 60.0,
        batch_max: int = 5000,
        queue_max: int = 200_000,
        put_timeout: float = 10.0,
        close_timeout: float = 30.0,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.origin = signer.name
        self.checkpoint_every = max(1, checkpoint_every)
        self.checkpoint_interval = checkpoint_interval
        self.batch_max = batch_max
        self._put_timeout = put_timeout
        self.close_timeout = close_timeout
        self._gave_up_at: float | None = None  # set once closing meets a failing database
        self._queue: queue.Queue[_Pending | _Marker] = queue.Queue(maxsize=queue_max)
        self._write_lock = threading.Lock()
        self._last_checkpoint = time.monotonic()
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="bastion-audit", daemon=True)
        self._thread.start()

    # --- the sink ------------------------------------------------------------------------
    def emit(self, event: AuditEvent) -> None:
        """Queue ``event``; blocks only if the writer is ``queue_max`` events behind."""
        if self._closed:
            raise AuditWriteError("the audit log is closed")
        try:
            self._queue.put(_Pending.of(event), timeout=self._put_timeout)
        except queue.Full:
            raise AuditWriteError("the audit log writer is too far behind") from None

    def flush(self, timeout: float | None = 60.0) -> None:
        """Wait until every event emitted so far is committed."""
        self._wait(_Marker(threading.Event()), timeout)

    def checkpoint(self, timeout: float | None = 60.0) -> None:
        """Flush, then sign a checkpoint of the current tree (if it grew)."""
        self._wait(_Marker(threading.Event(), checkpoint=True), timeout)

    def close(self) -> None:
        """Drain the queue, sign a last checkpoint and stop the writer."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_Marker(threading.Event(), stop=True, checkpoint=True))
        self._thread.join()
        self._raise_pending()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait(self, marker: _Marker, timeout: float | None) -> None:
        if self._closed:
            raise AuditWriteError("the audit log is closed")
        self._queue.put(marker)
        if not marker.done.wait(timeout):
            raise AuditWriteError("timed out waiting for the audit log writer")
        self._raise_pending()

    def _raise_pending(self) -> None:
        if self._error is not None:
            raise AuditWriteError(f"audit events could not be stored: {self._error}")

    # --- synchronous appends (tools, benchmarks, the writer thread) -----------------------
    def append(self, events: Iterable[AuditEvent]) -> range:
        """Append ``events`` now, in this thread; returns their indices."""
        return self._append([_Pending.of(e) for e in events], force=False)

    def _append(self, batch: list[_Pending], *, force: bool) -> range:
        with self._write_lock, self.engine.connect() as conn:
            size, edge = lock_state(conn)
            edge_range = CompactRange.unpack(size, edge)
            rows, node_rows = self._rows(batch, edge_range, conn.dialect.name)
            if rows:
                insert_entries(conn, rows)
            if node_rows:
                conn.execute(t.nodes.insert(), node_rows)
            conn.execute(
                t.state.update()
                .where(t.state.c.id == 1)
                .values(size=edge_range.size, edge=edge_range.pack())
            )
            self._maybe_checkpoint(conn, edge_range, force=force)
            conn.commit()
        return range(size, edge_range.size)

    @staticmethod
    def _rows(
        batch: list[_Pending], edge: CompactRange, dialect: str
    ) -> tuple[list[tuple[Any, ...]], list[dict[str, Any]]]:
        rows: list[tuple[Any, ...]] = []
        node_rows: list[dict[str, Any]] = []
        for item in batch:
            index = edge.size
            entry = entry_bytes(index, item.body)
            leaf = leaf_hash(entry)
            for level, node_index, h in edge.append(leaf):
                if level % t.TILE_HEIGHT == 0:
                    node_rows.append({"level": level, "idx": node_index, "hash": h})
            e = item.event
            rows.append(
                (
                    index,
                    leaf,
                    time_value(dialect, item.time),
                    e.action,
                    e.actor,
                    e.outcome.value,
                    e.resource,
                    e.source,
                    entry,
                )
            )
        return rows, node_rows

    def _maybe_checkpoint(self, conn: Connection, edge: CompactRange, *, force: bool) -> None:
        last = conn.execute(sa.select(sa.func.max(t.checkpoints.c.size))).scalar()
        last_size = int(last) if last is not None else -1
        if edge.size == last_size or (edge.size == 0 and not force):
            return
        due = time.monotonic() - self._last_checkpoint >= self.checkpoint_interval
        if not (force or due or edge.size - max(last_size, 0) >= self.checkpoint_every):
            return
        note = self.signer.sign(Checkpoint(self.origin, edge.size, edge.root()))
        conn.execute(
            t.checkpoints.insert().values(
                size=edge.size, root=edge.root(), note=note, created_at=datetime.now(UTC)
            )
        )
        self._last_checkpoint = time.monotonic()

    # --- the writer thread ---------------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                first = self._queue.get(timeout=max(0.05, self.checkpoint_interval))
            except queue.Empty:
                self._write([], force=False)
                continue
            batch: list[_Pending] = []
            markers: list[_Marker] = []
            item: _Pending | _Marker = first
            while True:
                if isinstance(item, _Pending):
                    batch.append(item)
                else:
                    markers.append(item)
                if len(batch) >= self.batch_max or markers:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            force = any(m.checkpoint for m in markers)
            self._write(batch, force=force)
            for marker in markers:
                stop = stop or marker.stop
                marker.done.set()

    def _write(self, batch: list[_Pending], *, force: bool) -> None:
        """Append ``batch``, retrying until the database takes it: events are never
        dropped while the log is open. Meanwhile :meth:`flush` and :meth:`checkpoint`
        raise, and :meth:`emit` raises once the queue is full, so callers see the outage.
        Only a closing log gives up, after ``close_timeout`` seconds, and then writes
        every event it could not store, whole, to the error log: the operator's record."""
        delay = 0.1
        attempt = 0
        while True:
            try:
                self._append(batch, force=force)
            except Exception as exc:  # keep the events; the database may come back
                attempt += 1
                log.warning("audit append failed (attempt %d): %s", attempt, exc)
                self._error = exc
                if self._closed and self._gave_up_at is None:
                    self._gave_up_at = time.monotonic() + self.close_timeout
                if self._gave_up_at is not None and time.monotonic() >= self._gave_up_at:
                    for pending in batch:
                        log.error("audit event not stored: %s", pending.body.decode())
                    return
                time.sleep(delay)
                delay = min(delay * 4, 5.0)
            else:
                self._error = None
                return
