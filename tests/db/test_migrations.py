"""The packaged migrations build the schema the code declares, on both databases."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import bastion.db
from bastion.db import Base, current_heads, make_engine, migrate, normalize_url, redact_url
from bastion.errors import ConfigError

#: Every module that declares tables on Base; the comparison below only sees imported ones.
TABLE_MODULES: list[str] = [
    "bastion.db.base",
    "bastion.auth.tokens",
    "bastion.auth.rbac",
    "bastion.registry.tables",
    "bastion.audit.tables",
    "bastion.auth.tables",
    "bastion.auth.user_grants",
]


def test_migrations_match_the_declared_tables(database_url: str) -> None:
    for name in TABLE_MODULES:
        importlib.import_module(name)
    engine = make_engine(database_url)
    try:
        assert current_heads(engine) == frozenset()
        migrate(engine)
        heads = current_heads(engine)
        assert heads  # db_0001, or the heads of the branches built on it
        scripts = ScriptDirectory(str(Path(bastion.db.__file__).with_name("migrations")))
        assert heads == frozenset(scripts.get_heads())  # every branch at its head
        migrate(engine)  # idempotent: a second start changes nothing
        assert current_heads(engine) == heads
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_sqlite_engine_enforces_foreign_keys_and_wal(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_urls_pick_the_shipped_driver(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "oracle://h"])
def test_unsupported_databases_are_refused_with_advice(url: str) -> None:
    with pytest.raises(ConfigError, match=r"sqlite|database URL"):
        normalize_url(url)


def test_passwords_never_appear_in_redacted_urls() -> None:
    assert "s3cret" not in redact_url("postgresql://user:s3cret@db/bastion")
