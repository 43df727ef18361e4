"""A dialect-neutral logical dump of every table: one JSON object per row, per table.

Values JSON cannot carry as they are get a one-key tag: ``{"b64": ...}`` for bytes,
``{"ts": ...}`` for timestamps (ISO 8601, UTC when the database knew the zone),
``{"date": ...}``, ``{"dec": ...}`` and ``{"json": ...}`` for JSON columns. So a dump
taken from SQLite loads into PostgreSQL and back. The tables are reflected from the
database, not taken from Bastion's metadata, so tables a later feature adds are dumped too.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

#: Alembic's bookkeeping: the schema revision is recorded in the manifest instead.
SKIPPED_TABLES = frozenset({"alembic_version"})


def encode_value(value: object) -> object:
    """A JSON-able form of a column value (see the module docstring)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return {"ts": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    if isinstance(value, dict | list):
        return {"json": value}
    raise TypeError(f"cannot dump a column value of type {type(value).__name__}")


def decode_value(value: object) -> object:
    """The inverse of :func:`encode_value`."""
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise ValueError("a tagged value must have exactly one key")
    ((tag, raw),) = value.items()
    if tag == "json":
        return raw
    if not isinstance(raw, str):
        raise ValueError(f"tagged value {tag!r} must be a string")
    if tag == "b64":
        return base64.b64decode(raw, validate=True)
    if tag == "ts":
        return datetime.fromisoformat(raw)
    if tag == "date":
        return date.fromisoformat(raw)
    if tag == "dec":
        return Decimal(raw)
    if tag == "float":
        return float(raw)
    raise ValueError(f"unknown value tag {tag!r}")


def reflect(conn: Connection) -> sa.MetaData:
    meta = sa.MetaData()
    meta.reflect(bind=conn)
    return meta


def dump_tables(conn: Connection, out_dir: Path) -> dict[str, int]:
    """Write ``<table>.jsonl`` for every table into ``out_dir``; returns row counts.

    The caller holds one read transaction on ``conn`` so every table is read at one point.
    """
    meta = reflect(conn)
    counts: dict[str, int] = {}
    for table in meta.sorted_tables:
        if table.name in SKIPPED_TABLES:
            continue
        order = list(table.primary_key.columns) or list(table.columns)
        query = sa.select(table).order_by(*order)
        count = 0
        result = conn.execute(query)
        names = list(result.keys())
        with (out_dir / f"{table.name}.jsonl").open("w", encoding="utf-8") as out:
            for row in result:
                record = {
                    n: v if type(v) in _PLAIN else encode_value(v)
                    for n, v in zip(names, row, strict=True)
                }
                out.write(_ENCODER.encode(record) + "\n")
                count += 1
        counts[table.name] = count
    return counts


#: Values written as they are (checked by exact type: ``bool`` is an ``int``, both plain).
_PLAIN = frozenset({str, int, bool, type(None)})
_ENCODER = json.JSONEncoder(separators=(",", ":"))


def read_rows(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            raw = json.loads(line)
            if not isinstance(raw, dict):
                raise ValueError(f"{path.name}: a row is not a JSON object")
            yield {str(k): decode_value(v) if type(v) is dict else v for k, v in raw.items()}


def _fit(value: object, column: sa.Column[Any], dialect: str) -> object:
    """Naive timestamps (SQLite keeps no zone) are UTC when the target column has one."""
    if (
        isinstance(value, datetime)
        and value.tzinfo is None
        and dialect == "postgresql"
        and getattr(column.type, "timezone", False)
    ):
        return value.replace(tzinfo=UTC)
    return value


def load_tables(conn: Connection, in_dir: Path, counts: Mapping[str, int]) -> None:
    """Insert every dumped table's rows into the (migrated, empty) tables of ``conn``."""
    meta = reflect(conn)
    missing = set(counts) - set(meta.tables)
    if missing:
        raise ValueError(f"the target database lacks tables {sorted(missing)}")
    dialect = conn.dialect.name
    for table in reversed(meta.sorted_tables):
        if table.name in counts:
            conn.execute(table.delete())  # rows the migrations seed (state, meta)
    for table in meta.sorted_tables:
        if table.name not in counts:
            continue
        batch: list[dict[str, object]] = []
        for row in read_rows(in_dir / f"{table.name}.jsonl"):
            batch.append({k: _fit(v, table.c[k], dialect) for k, v in row.items()})
            if len(batch) >= 1000:
                conn.execute(table.insert(), batch)
                batch = []
        if batch:
            conn.execute(table.insert(), batch)
        if dialect == "postgresql":
            _reset_sequences(conn, table)


def _reset_sequences(conn: Connection, table: sa.Table) -> None:
    """Move each serial column's sequence past the loaded ids."""
    for column in table.primary_key.columns:
        if not isinstance(column.type, sa.Integer):
            continue
        seq = conn.execute(
            sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
            {"t": table.name, "c": column.name},
        ).scalar()
        if seq is None:
            continue
        top = conn.execute(sa.select(sa.func.max(column))).scalar()
        conn.execute(
            sa.text("SELECT setval(CAST(:s AS regclass), :v, false)"),
            {"s": seq, "v": int(top or 0) + 1},
        )
