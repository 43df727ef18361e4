"""Role grants for users, keyed by principal id (``user:NAME``).

One row grants one role in one namespace; global roles (admin, auditor) use the namespace
``*``. This module is the only one that touches the table, so a server that keeps grants
for API tokens elsewhere can merge the two behind :func:`roles_for` and :func:`grant_row`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    String,
    Table,
    UniqueConstraint,
    delete,
    insert,
    select,
)

from bastion.auth.base import GLOBAL_ROLES, NAMESPACE_ROLES, Role
from bastion.db import Base

GLOBAL = "*"

user_grants = Table(
    "identity_user_grants",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("principal", String(200), nullable=False, index=True),
    Column("namespace", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("granted_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("principal", "namespace", "role", name="uq_identity_user_grants_grant"),
)


@dataclass(frozen=True, slots=True, order=True)
class Grant:
    principal: str
    namespace: str  # GLOBAL for admin and auditor over everything
    role: Role

    @property
    def is_global(self) -> bool:
        return self.namespace == GLOBAL


def validate(role: Role, namespace: str) -> None:
    """Raise ValueError for a role that makes no sense where it is granted."""
    if namespace == GLOBAL:
        if role not in GLOBAL_ROLES:
            raise ValueError(f"{role} is a namespace role: name the namespace")
    elif role not in NAMESPACE_ROLES:
        raise ValueError(f"{role} is a global role: grant it without a namespace")
    elif not namespace or len(namespace) > 200 or not namespace.isprintable():
        raise ValueError("a namespace name is 1 to 200 printable characters")


def roles_for(conn: Connection, principal: str) -> list[Grant]:
    rows = conn.execute(
        select(user_grants.c.namespace, user_grants.c.role).where(
            user_grants.c.principal == principal
        )
    )
    return sorted(Grant(principal, ns, Role(role)) for ns, role in rows)


def grant_row(conn: Connection, grant: Grant, *, granted_by: str) -> bool:
    """Insert the grant; False when it was already there."""
    exists = conn.execute(
        select(user_grants.c.id).where(
            user_grants.c.principal == grant.principal,
            user_grants.c.namespace == grant.namespace,
            user_grants.c.role == grant.role.value,
        )
    ).first()
    if exists is not None:
        return False
    conn.execute(
        insert(user_grants).values(
            principal=grant.principal,
            namespace=grant.namespace,
            role=grant.role.value,
            granted_by=granted_by,
            created_at=int(time.time()),
        )
    )
    return True


def revoke_row(conn: Connection, grant: Grant) -> bool:
    result = conn.execute(
        delete(user_grants).where(
            user_grants.c.principal == grant.principal,
            user_grants.c.namespace == grant.namespace,
            user_grants.c.role == grant.role.value,
        )
    )
    return result.rowcount > 0


def revoke_all(conn: Connection, principal: str) -> None:
    conn.execute(delete(user_grants).where(user_grants.c.principal == principal))


def can_grant(actor_grants: list[Grant], grant: Grant) -> bool:
    """Least privilege: a global admin grants anything; otherwise a maintainer (or a namespace
    admin) grants at most their own role, in a namespace where they hold it."""
    if any(g.is_global and g.role is Role.ADMIN for g in actor_grants):
        return True
    if grant.is_global:
        return False
    own = [
        g.role.rank
        for g in actor_grants
        if g.namespace == grant.namespace and g.role in NAMESPACE_ROLES
    ]
    best = max(own, default=-1)
    return best >= Role.MAINTAINER.rank and grant.role.rank <= best


def needs_mfa(grants: list[Grant]) -> bool:
    """Admins (global or of a namespace) and auditors must use a second factor."""
    return any(g.role in (Role.ADMIN, Role.AUDITOR) for g in grants)
