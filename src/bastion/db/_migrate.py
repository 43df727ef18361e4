"""Run the packaged Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

_SCRIPTS = Path(__file__).with_name("migrations")


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, *, target: str = "heads") -> None:
    """Upgrade the database behind ``engine`` to ``target`` (every branch's head by default).

    Safe to run on every start: a database already at its heads is left as it is.
    """
    command.upgrade(_config(engine), target)


def current_heads(engine: Engine) -> frozenset[str]:
    """The revisions the database is at (empty for a database never migrated)."""
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())
