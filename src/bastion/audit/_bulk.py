"""Bulk reads and writes of log rows through the driver, bypassing SQLAlchemy's
per-row parameter processing, which costs more than hashing and SQLite together.

Values are bound as parameters (SQLite ``executemany``) or streamed with PostgreSQL's
``COPY``; no SQL text is ever built from data. Times are stored the way SQLAlchemy's
``DateTime`` stores them on each database, so ordinary queries read them back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from bastion.audit.canonical import parse_time

ENTRY_COLUMNS = (
    "idx",
    "leaf_hash",
    "time",
    "action",
    "actor",
    "outcome",
    "resource",
    "source",
    "entry",
)
_COLUMN_LIST = ", ".join(ENTRY_COLUMNS)


def time_value(dialect: str, canonical: str) -> object:
    """The column value for a canonical ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` time."""
    if dialect == "sqlite":
        return canonical[:10] + " " + canonical[11:26]  # SQLAlchemy's SQLite format
    return parse_time(canonical)


def column_time(dialect: str, value: object) -> str:
    """The canonical text of a stored time value (the inverse of :func:`time_value`)."""
    if isinstance(value, str):
        return value[:10] + "T" + value[11:26] + "Z"
    if isinstance(value, datetime):
        from bastion.audit.canonical import format_time

        return format_time(value)
    raise TypeError("time column holds neither text nor a timestamp")


def insert_entries(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    cursor: Any = conn.connection.cursor()
    try:
        if conn.dialect.name == "sqlite":
            marks = ", ".join("?" * len(ENTRY_COLUMNS))
            cursor.executemany(f"INSERT INTO audit_entries ({_COLUMN_LIST}) VALUES ({marks})", rows)  # noqa: S608
        else:
            with cursor.copy(f"COPY audit_entries ({_COLUMN_LIST}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    finally:
        cursor.close()


def iter_entries(conn: Connection, batch: int = 20_000) -> Iterator[tuple[Any, ...]]:
    """Every entry row in index order, as tuples in ENTRY_COLUMNS order."""
    query = f"SELECT {_COLUMN_LIST} FROM audit_entries ORDER BY idx"  # noqa: S608
    raw: Any = conn.connection.dbapi_connection
    if conn.dialect.name == "sqlite":
        cursor = raw.cursor()
        cursor.arraysize = batch
    else:
        cursor = raw.cursor(name="bastion_audit_scan")  # server-side: constant memory
        cursor.itersize = batch
    try:
        cursor.execute(query)
        while rows := cursor.fetchmany(batch):
            yield from rows
    finally:
        cursor.close()
