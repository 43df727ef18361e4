"""Quarantine model versions: by reference, by namespace, or by who uploaded them in a
time window. A quarantined version is never served; an admin can release it again
(``bastion release``) once it is cleared."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from bastion.incident.base import Change, IncidentError, PlaybookResult, Workspace, parse_ref
from bastion.registry import tables as t

__all__ = ["quarantine_versions"]

QUARANTINED = "quarantined"


def quarantine_versions(
    ws: Workspace,
    *,
    reason: str,
    versions: Sequence[str] = (),
    namespace: str | None = None,
    uploaded_by: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    dry_run: bool = False,
) -> PlaybookResult:
    """Quarantine every version that matches all the given selectors (at least one)."""
    if not (versions or namespace or uploaded_by):
        raise IncidentError(
            "nothing selected", hint="Name versions, a --namespace or an --uploaded-by principal."
        )
    v, m = t.versions.c, t.models.c
    query = (
        sa.select(v.id, m.namespace, m.name.label("model"), v.name.label("version"), v.state)
        .join(t.models, m.id == v.model_id)
        .where(v.state != QUARANTINED)
        .order_by(m.namespace, m.name, v.name)
    )
    if versions:
        refs = [parse_ref(r) for r in versions]
        query = query.where(
            sa.or_(*(sa.and_(m.namespace == a, m.name == b, v.name == c) for a, b, c in refs))
        )
    if namespace is not None:
        query = query.where(m.namespace == namespace)
    if uploaded_by is not None:
        query = query.where(v.created_by == uploaded_by)
    if since is not None:
        query = query.where(v.created_at >= since)
    if until is not None:
        query = query.where(v.created_at < until)
    with ws.engine.begin() as conn:
        rows = conn.execute(query).all()
        changes = tuple(
            Change("model.quarantine", f"{r.namespace}/{r.model}:{r.version}", f"was {r.state}")
            for r in rows
        )
        if not dry_run and rows:
            conn.execute(
                t.versions.update()
                .where(v.id.in_([r.id for r in rows]), v.state != QUARANTINED)
                .values(state=QUARANTINED, state_reason=f"incident: {reason}")
            )
    result = PlaybookResult("quarantine", dry_run, changes)
    if not dry_run:
        for change in changes:
            ws.emit(change.action, change.target, {"incident": True, "detail": change.detail},
                    reason=reason)  # fmt: skip
    ws.record(result, reason, namespace or uploaded_by or None)
    return result
