"""API tokens: random, shown once, stored only as a SHA-256 digest, looked up in constant time.

A token reads ``bst_<id>_<secret>``: ``id`` (12 hex characters) is public and finds the
row; ``secret`` (32 random bytes, base64url) is never stored, only the SHA-256 of the whole
token, compared with :func:`hmac.compare_digest`. A plain hash is enough here (no salt, no
slow KDF): the secret carries 256 bits of entropy, so there is nothing to brute-force.

A token has an expiry, a scope (the highest role it may exercise, whatever its holder is
granted) and optional namespace limits (the only namespaces it may touch).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from bastion.auth.base import Principal, PrincipalKind, Role
from bastion.db import Base
from bastion.errors import BastionError

__all__ = [
    "AuthenticationError",
    "IssuedToken",
    "TokenInfo",
    "api_tokens",
    "authenticate",
    "issue_token",
    "list_tokens",
    "revoke_token",
]

PREFIX = "bst_"
_TOKEN = re.compile(r"bst_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")

api_tokens = sa.Table(
    "api_tokens",
    Base.metadata,
    sa.Column("id", sa.String(12), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),  # the principal's name: token:<name>
    sa.Column("secret_sha256", sa.LargeBinary(32), nullable=False),
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("namespaces", sa.Text(), nullable=False),  # comma-separated; empty: no limit
    sa.Column("created_by", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)


class AuthenticationError(BastionError):
    """No valid credentials: a missing, malformed, unknown, expired or revoked token."""

    hint = "Log in again with a valid token (bastion login), or ask an admin for a new one."


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a token is, never what it is: the secret is not kept."""

    id: str
    name: str
    scope: Role
    namespaces: tuple[str, ...]
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    @property
    def principal(self) -> Principal:
        return Principal(PrincipalKind.TOKEN, self.name)

    def allows_namespace(self, namespace: str | None) -> bool:
        """True when the token is not limited, or ``namespace`` is one of its limits."""
        return not self.namespaces or (namespace is not None and namespace in self.namespaces)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: ``secret`` is shown to its owner once and never again."""

    info: TokenInfo
    secret: str


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything Bastion stores is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _info(row: sa.Row[tuple[object, ...]]) -> TokenInfo:
    m = row._mapping
    revoked = m["revoked_at"]
    return TokenInfo(
        id=m["id"],
        name=m["name"],
        scope=Role(m["scope"]),
        namespaces=tuple(n for n in str(m["namespaces"]).split(",") if n),
        created_by=m["created_by"],
        created_at=_aware(m["created_at"]),
        expires_at=_aware(m["expires_at"]),
        revoked_at=None if revoked is None else _aware(revoked),
    )


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,199}")


def issue_token(
    conn: Connection,
    *,
    name: str,
    created_by: str,
    ttl: timedelta,
    scope: Role = Role.ADMIN,
    namespaces: Iterable[str] = (),
    now: datetime | None = None,
) -> IssuedToken:
    """Create a token for principal ``token:<name>`` and return it with its secret."""
    if not _NAME.fullmatch(name):
        raise ValueError("a token name is 1 to 200 letters, digits, '.', '_', '@' or '-'")
    if ttl <= timedelta(0):
        raise ValueError("a token's lifetime must be positive")
    limits = tuple(sorted(set(namespaces)))
    if any("," in n or not n for n in limits):
        raise ValueError("namespace limits must be non-empty names without commas")
    created = now or datetime.now(UTC)
    token_id = secrets.token_hex(6)
    secret = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    conn.execute(
        api_tokens.insert().values(
            id=token_id,
            name=name,
            secret_sha256=_digest(secret),
            scope=scope.value,
            namespaces=",".join(limits),
            created_by=created_by,
            created_at=created,
            expires_at=created + ttl,
            revoked_at=None,
        )
    )
    info = TokenInfo(token_id, name, scope, limits, created_by, created, created + ttl, None)
    return IssuedToken(info, secret)


def authenticate(conn: Connection, token: str, *, now: datetime | None = None) -> TokenInfo:
    """The token's record, or :class:`AuthenticationError` (one message for every failure,
    so a caller learns nothing about which part was wrong)."""
    denied = AuthenticationError("invalid, expired or revoked API token")
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise denied
    row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == match[1])).first()
    # Compare even when no row exists, so timing says nothing about which ids exist.
    stored = row._mapping["secret_sha256"] if row is not None else b"\0" * 32
    if not hmac.compare_digest(bytes(stored), _digest(token)) or row is None:
        raise denied
    info = _info(row)
    if info.revoked_at is not None or info.expires_at <= (now or datetime.now(UTC)):
        raise denied
    return info


def revoke_token(conn: Connection, token_id: str, *, now: datetime | None = None) -> bool:
    """Revoke a token by id; False when there is no such live token."""
    result = conn.execute(
        api_tokens.update()
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now(UTC))
    )
    return result.rowcount == 1


def list_tokens(conn: Connection) -> list[TokenInfo]:
    rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.created_at)).all()
    return [_info(r) for r in rows]
