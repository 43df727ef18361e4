"""Engines for the two supported databases, configured the same way everywhere."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bastion.errors import ConfigError

_SUPPORTED = ("sqlite", "postgresql")


def normalize_url(url: str | URL) -> URL:
    """Parse ``url`` and pick the driver Bastion ships with (psycopg 3 for PostgreSQL).

    ``postgres://`` and ``postgresql://`` both mean PostgreSQL over psycopg; any other
    backend is refused with a message that says what is supported.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in _SUPPORTED:
        raise ConfigError(
            f"unsupported database {backend!r}: use sqlite:///PATH or postgresql://USER@HOST/DB"
        )
    if backend == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    return parsed.set(drivername="sqlite")


def redact_url(url: str | URL) -> str:
    """The URL with its password hidden, for logs and error messages."""
    return normalize_url(url).render_as_string(hide_password=True)


def make_engine(url: str | URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` with Bastion's settings.

    SQLite gets write-ahead logging (readers never block the writer), foreign keys on,
    a busy timeout instead of immediate "database is locked" errors, and
    ``synchronous=NORMAL``, which is durable across application crashes in WAL mode.
    PostgreSQL connections are checked before use so a restarted server is survived.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(parsed, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()
