"""Contain a principal: disable the user, revoke every session and API token it holds or
made, and block its LLM-proxy keys, in one transaction and one audited step."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from bastion.auth import sessions as session_store
from bastion.auth._core import ServiceCore
from bastion.auth.tables import sessions, users
from bastion.auth.tokens import api_tokens, revoke_token
from bastion.incident.base import Change, IncidentError, PlaybookResult, Workspace

__all__ = ["contain_principal"]


def _split(principal: str) -> tuple[str, str]:
    kind, sep, name = principal.partition(":")
    if not sep:
        return "user", principal
    if kind not in ("user", "token") or not name:
        raise IncidentError(
            f"cannot contain {principal!r}", hint="Name a principal as user:NAME or token:NAME."
        )
    return kind, name


def contain_principal(
    ws: Workspace,
    principal: str,
    *,
    reason: str,
    proxy_keys: Path | None = None,
    proxy_key_ids: Sequence[str] = (),
    dry_run: bool = False,
) -> PlaybookResult:
    """Cut ``principal`` (``user:NAME``, ``token:NAME`` or a bare user name) off."""
    kind, name = _split(principal)
    full = f"{kind}:{name}"
    changes: list[Change] = []
    with ws.engine.begin() as conn:
        user = None
        if kind == "user":
            user = conn.execute(sa.select(users).where(users.c.name == name)).first()
            if user is None:
                raise IncidentError(f"no user {name!r}")
            if not user.disabled:
                changes.append(Change("user.disable", full))
            live = _live_sessions(conn, user.id)
            if live:
                changes.append(Change("session.revoke", full, f"{live} session(s)"))
        for token_id, token_name in _tokens(conn, kind, name, full):
            changes.append(Change("token.revoke", f"token:{token_name}", f"id {token_id}"))
        blocked = _blocked_keys(proxy_keys, {*proxy_key_ids, name})
        changes += [Change("proxy_key.block", f"proxy-key:{key}") for key in blocked]
        if not dry_run:
            _apply(conn, user, changes)
    if not dry_run and proxy_keys is not None and blocked:
        _rewrite_keys(proxy_keys, set(blocked))
    result = PlaybookResult(
        "contain",
        dry_run,
        tuple(changes),
        notes=("restart the LLM proxy: it reads its key file at start",) if blocked else (),
    )
    if not dry_run:
        for change in changes:
            ws.emit(change.action, change.target, {"incident": True, "detail": change.detail},
                    reason=reason)  # fmt: skip
    ws.record(result, reason, full)
    return result


def _live_sessions(conn: Connection, user_id: int) -> int:
    now = int(datetime.now(UTC).timestamp())
    query = sa.select(sa.func.count()).where(
        sessions.c.user_id == user_id, sessions.c.revoked.is_(False), sessions.c.expires_at > now
    )
    return int(conn.execute(query).scalar_one())


def _tokens(conn: Connection, kind: str, name: str, full: str) -> list[tuple[str, str]]:
    """Live tokens that are the principal, or that it created."""
    c = api_tokens.c
    whose = c.created_by == full
    if kind == "token":
        whose = sa.or_(whose, c.name == name)
    query = (
        sa.select(c.id, c.name)
        .where(whose, c.revoked_at.is_(None), c.expires_at > datetime.now(UTC))
        .order_by(c.id)
    )
    return [(str(r.id), str(r.name)) for r in conn.execute(query)]


def _apply(conn: Connection, user: Any, changes: list[Change]) -> None:
    if user is not None:
        conn.execute(users.update().where(users.c.id == user.id).values(disabled=True))
        ServiceCore.bump_epoch(conn, user.id)  # every credential issued before is void
        session_store.revoke(conn, user_id=user.id)
    for change in changes:
        if change.action == "token.revoke":
            revoke_token(conn, change.detail.removeprefix("id "))


def _read_keys(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("keys"), list):
            raise ValueError("no list of keys")
        return raw
    except (OSError, ValueError) as exc:
        raise IncidentError(f"cannot read the proxy key file {path}: {exc}") from None


def _blocked_keys(path: Path | None, ids: set[str]) -> list[str]:
    if path is None:
        return []
    present = [str(k.get("id")) for k in _read_keys(path)["keys"] if isinstance(k, dict)]
    return sorted(i for i in present if i in ids)


def _rewrite_keys(path: Path, blocked: set[str]) -> None:
    """Drop the blocked keys' entries (their digests): the proxy denies unknown keys."""
    raw = _read_keys(path)
    raw["keys"] = [k for k in raw["keys"] if str(k.get("id")) not in blocked]
    tmp = path.with_name(f".{path.name}.incident")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(raw, out, indent=2)
        out.write("\n")
    os.replace(tmp, path)
