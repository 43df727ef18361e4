"""Login sessions: opaque random tokens, stored only as SHA-256 hashes, revocable.

A session records the user's ``credential_epoch`` when it was issued; a password change,
an MFA reset or a new need for MFA bumps the epoch and so ends every session at once.
A session's ``scope`` says what it may do: ``full``, or ``enrol-mfa`` for a user who must
set up MFA before anything else.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, insert, select, update

from bastion.auth.base import Principal, PrincipalKind
from bastion.auth.errors import AuthenticationFailed
from bastion.auth.tables import sessions, users

TOKEN_PREFIX = "bss_"  # noqa: S105 - a prefix that lets secret scanners find leaked tokens


class SessionScope(StrEnum):
    FULL = "full"
    ENROL_MFA = "enrol-mfa"  # may only enrol and confirm a second factor


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    user: str
    scope: SessionScope
    mfa: bool
    created_at: int
    expires_at: int
    source: str | None

    @property
    def principal(self) -> Principal:
        return Principal(PrincipalKind.USER, self.user, mfa=self.mfa)


@dataclass(frozen=True, slots=True)
class IssuedSession:
    """A new session and its bearer token. The token is shown once and never stored."""

    token: str
    session: Session


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue(
    conn: Connection,
    *,
    user_id: int,
    user: str,
    epoch: int,
    scope: SessionScope,
    mfa: bool,
    ttl: int,
    source: str | None,
    now: int,
) -> IssuedSession:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session = Session(
        id=secrets.token_hex(8),
        user=user,
        scope=scope,
        mfa=mfa,
        created_at=now,
        expires_at=now + ttl,
        source=source[:255] if source else None,
    )
    conn.execute(
        insert(sessions).values(
            id=session.id,
            user_id=user_id,
            token_hash=token_hash(token),
            scope=scope.value,
            mfa=mfa,
            epoch=epoch,
            created_at=now,
            expires_at=session.expires_at,
            source=session.source,
            revoked=False,
        )
    )
    return IssuedSession(token=token, session=session)


def _active(now: int) -> list[ColumnElement[bool]]:
    return [
        sessions.c.revoked.is_(False),
        sessions.c.expires_at > now,
        sessions.c.epoch == users.c.credential_epoch,
        users.c.disabled.is_(False),
    ]


_COLUMNS = (
    sessions.c.id,
    users.c.name,
    sessions.c.scope,
    sessions.c.mfa,
    sessions.c.created_at,
    sessions.c.expires_at,
    sessions.c.source,
)


def resolve(conn: Connection, token: str, *, now: int) -> Session:
    """The live session for ``token``; :class:`AuthenticationFailed` for any other token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        raise AuthenticationFailed("invalid or expired session")
    row = conn.execute(
        select(*_COLUMNS)
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.token_hash == token_hash(token), *_active(now))
    ).first()
    if row is None:
        raise AuthenticationFailed("invalid or expired session")
    return _session(row)


def _session(row: Any) -> Session:
    sid, name, scope, mfa, created, expires, source = row
    return Session(sid, name, SessionScope(scope), bool(mfa), created, expires, source)


def list_active(conn: Connection, user_id: int, *, now: int) -> list[Session]:
    rows = conn.execute(
        select(*_COLUMNS)
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.user_id == user_id, *_active(now))
        .order_by(sessions.c.created_at, sessions.c.id)
    )
    return [_session(row) for row in rows]


def revoke(conn: Connection, *, user_id: int, session_id: str | None = None) -> int:
    """Revoke one session of the user (or all of them when ``session_id`` is None)."""
    stmt = update(sessions).where(sessions.c.user_id == user_id, sessions.c.revoked.is_(False))
    if session_id is not None:
        stmt = stmt.where(sessions.c.id == session_id)
    return conn.execute(stmt.values(revoked=True)).rowcount
