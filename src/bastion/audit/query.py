"""Search the log by its indexed columns; events come from the hashed entry bytes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Engine

from bastion.audit import tables as t
from bastion.audit._bulk import time_value
from bastion.audit.base import AuditEvent, Outcome
from bastion.audit.canonical import decode_entry, format_time


@dataclass(frozen=True, slots=True)
class Filter:
    actor: str | None = None
    action: str | None = None  # exact, or a prefix ending in "." or "*" ("auth.*")
    resource: str | None = None
    outcome: Outcome | None = None
    since: datetime | None = None
    until: datetime | None = None


def search(
    engine: Engine, where: Filter, *, limit: int | None = None, newest_first: bool = False
) -> Iterator[tuple[int, AuditEvent]]:
    """Matching entries in log order (or newest first), as ``(index, event)``."""
    c = t.entries.c
    query = sa.select(c.idx, c.entry).order_by(c.idx.desc() if newest_first else c.idx)
    dialect = engine.dialect.name
    if where.actor is not None:
        query = query.where(c.actor == where.actor)
    if where.action is not None:
        if where.action.endswith(("*", ".")):
            prefix = where.action.rstrip("*")
            query = query.where(c.action.startswith(prefix, autoescape=True))
        else:
            query = query.where(c.action == where.action)
    if where.resource is not None:
        query = query.where(c.resource == where.resource)
    if where.outcome is not None:
        query = query.where(c.outcome == where.outcome.value)
    if where.since is not None:
        query = query.where(c.time >= sa.literal(time_value(dialect, format_time(where.since))))
    if where.until is not None:
        query = query.where(c.time < sa.literal(time_value(dialect, format_time(where.until))))
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        for row in conn.execute(query):
            yield decode_entry(bytes(row.entry))
