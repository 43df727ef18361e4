"""The relational store every server feature shares: one SQLAlchemy metadata, one
engine factory for SQLite (the embedded default) and PostgreSQL, and Alembic
migrations shipped inside the package.

Each feature (registry, identity, audit) declares its tables on :class:`Base` in its
own package and ships its migrations in ``bastion/db/migrations/versions`` on an
Alembic branch of its own (``branch_labels``), so features evolve independently and
:func:`migrate` upgrades every branch to its head.
"""

from __future__ import annotations

from bastion.db._engine import make_engine, normalize_url, redact_url
from bastion.db._migrate import current_heads, migrate
from bastion.db.base import Base

__all__ = ["Base", "current_heads", "make_engine", "migrate", "normalize_url", "redact_url"]
