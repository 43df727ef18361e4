"""The server's own configuration: TLS on, key files private, no first-admin token left
valid, and admins (and auditors) enrolled in MFA. Reads only; changes nothing."""

from __future__ import annotations

import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import Engine

from bastion.auth.tables import users
from bastion.auth.tokens import api_tokens
from bastion.auth.user_grants import user_grants
from bastion.config import ServerSettings

__all__ = ["Finding", "check_server"]

#: Secrets in a data directory; each must be readable by its owner only.
PRIVATE_FILES = (
    "kek.json",
    "audit-log.key",
    "identity.key",
    "tls/key.pem",
    "backup-signing.key",
)


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    severity: str  # low, medium, high, critical
    message: str
    fix: str


def check_server(settings: ServerSettings, engine: Engine | None) -> list[Finding]:
    """Findings for the settings, the data directory and (when given) the database."""
    found: list[Finding] = []
    if settings.insecure_http:
        found.append(
            Finding(
                "tls",
                "high",
                "the server is set to plain HTTP (insecure_http)",
                "Remove insecure_http from the settings; bastion up serves TLS.",
            )
        )
    found += _file_modes(settings.data_dir)
    if engine is not None:
        found += _database(engine)
    return found


def _loose(path: Path) -> bool:
    return bool(path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO))


def _file_modes(data_dir: Path) -> list[Finding]:
    found: list[Finding] = []
    if not data_dir.is_dir():
        return found
    if _loose(data_dir):
        found.append(
            Finding(
                "permissions",
                "medium",
                f"the data directory {data_dir} is open to other users",
                f"chmod 700 {data_dir}",
            )
        )
    for name in PRIVATE_FILES:
        path = data_dir / name
        if path.is_file() and _loose(path):
            found.append(
                Finding(
                    "permissions", "high", f"{path} is readable by other users", f"chmod 600 {path}"
                )
            )
    return found


def _database(engine: Engine) -> list[Finding]:
    found: list[Finding] = []
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        now = datetime.now(UTC)
        if "api_tokens" in tables:
            c = api_tokens.c
            first = conn.execute(
                sa.select(c.id, c.expires_at).where(
                    c.name == "admin", c.created_by == "system", c.revoked_at.is_(None)
                )
            ).all()
            for row in first:
                expires = row.expires_at
                if expires.tzinfo is None:
                    expires = expires.replace(tzinfo=UTC)
                if expires > now:
                    found.append(
                        Finding(
                            "credentials",
                            "medium",
                            f"the first-admin token {row.id} is still valid",
                            "Create named admin accounts, then revoke it: "
                            f"DELETE /v1/tokens/{row.id}.",
                        )
                    )
        if {"identity_users", "identity_user_grants"} <= tables:
            found += _admins_without_mfa(conn)
    return found


def _admins_without_mfa(conn: sa.Connection) -> list[Finding]:
    principal = sa.literal("user:") + users.c.name
    query = (
        sa.select(users.c.name)
        .join(user_grants, user_grants.c.principal == principal)
        .where(
            user_grants.c.role.in_(["admin", "auditor"]),
            users.c.mfa_enabled.is_(False),
            users.c.disabled.is_(False),
        )
        .distinct()
        .order_by(users.c.name)
    )
    return [
        Finding(
            "mfa",
            "medium",
            f"user {name} holds an admin or auditor role without MFA",
            f"Have {name} enrol TOTP (bastion users mfa enrol {name}) before next login.",
        )
        for name in conn.execute(query).scalars()
    ]
