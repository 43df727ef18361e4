"""Alembic environment: the engine comes from :func:`bastion.db.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from bastion.db.base import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):  # pragma: no cover - only reachable from the alembic CLI
    raise RuntimeError("run migrations through bastion.db.migrate(engine)")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
