"""Role-based access control: role grants per namespace, and THE authorization function.

Default deny: a principal with no grant can do nothing but say who it is. Rights come only
from grants: a namespace role (reader < publisher < maintainer < admin, each including the
ones before it) or a global role (admin: everything; auditor: metadata and audit data,
never model bytes). A token narrows what its holder may do (its scope and namespace
limits); it never widens it.

Every HTTP route declares one :class:`Permission`; :func:`authorize` is the only place that
decides whether a principal has it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy import Connection

from bastion.auth.base import GLOBAL_ROLES, NAMESPACE_ROLES, Principal, PrincipalKind, Role
from bastion.auth.user_grants import GLOBAL as USER_GLOBAL
from bastion.auth.user_grants import Grant as UserGrant
from bastion.auth.user_grants import revoke_row, roles_for, user_grants
from bastion.db import Base
from bastion.errors import BastionError

__all__ = [
    "GLOBAL",
    "Grants",
    "Permission",
    "PermissionDenied",
    "authorize",
    "grant",
    "list_grants",
    "load_grants",
    "revoke",
    "role_grants",
]

#: The namespace column's value for a global grant.
GLOBAL = ""

role_grants = sa.Table(
    "role_grants",
    Base.metadata,
    sa.Column("principal", sa.String(255), primary_key=True),
    sa.Column("namespace", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), primary_key=True),
)


class Permission(enum.StrEnum):
    """What a route needs. The value is shown in OpenAPI and in denials."""

    AUTHENTICATED = "authenticated"  # any valid principal: whoami, listing what it may see
    METADATA_READ = "metadata:read"  # models, versions, files, scan reports, policies
    MODEL_PULL = "model:pull"  # model bytes
    MODEL_PUSH = "model:push"
    POLICY_WRITE = "policy:write"
    RELEASE = "version:release"  # release a quarantined version
    GRANT_MANAGE = "grant:manage"  # namespace role grants
    AUDIT_READ = "audit:read"
    NAMESPACE_CREATE = "namespace:create"
    TOKEN_MANAGE = "token:manage"  # noqa: S105 - a permission name, not a secret
    GLOBAL_GRANT_MANAGE = "grant:manage-global"
    KEY_ROTATE = "key:rotate"
    USER_MANAGE = "user:manage"  # create, disable, delete users; reset MFA; unlock

    @property
    def namespaced(self) -> bool:
        return self in _NAMESPACE_MINIMUM


#: The least namespace role that holds each namespaced permission.
_NAMESPACE_MINIMUM: Mapping[Permission, Role] = MappingProxyType(
    {
        Permission.METADATA_READ: Role.READER,
        Permission.MODEL_PULL: Role.READER,
        Permission.MODEL_PUSH: Role.PUBLISHER,
        Permission.POLICY_WRITE: Role.MAINTAINER,
        Permission.RELEASE: Role.ADMIN,
        Permission.GRANT_MANAGE: Role.ADMIN,
    }
)
#: What the global auditor may do, in any namespace or none.
_AUDITOR = frozenset({Permission.METADATA_READ, Permission.AUDIT_READ})


class PermissionDenied(BastionError):
    """The principal is authenticated but lacks the permission."""

    hint = "Ask an admin of the namespace for a role that includes this permission."


@dataclass(frozen=True, slots=True)
class Grants:
    """Everything :func:`authorize` needs about a principal, loaded once per request.

    ``scope`` and ``namespace_limits`` come from the credential (an API token); a
    credential without limits has scope ``Role.ADMIN`` and no namespace limits.
    """

    principal: Principal
    global_roles: frozenset[Role] = frozenset()
    namespace_roles: Mapping[str, Role] = field(default_factory=dict)
    scope: Role = Role.ADMIN
    namespace_limits: tuple[str, ...] = ()

    def _within_limits(self, namespace: str | None) -> bool:
        if not self.namespace_limits:
            return True
        return namespace is not None and namespace in self.namespace_limits

    def namespace_role(self, namespace: str) -> Role | None:
        """The role the principal effectively holds in ``namespace`` (scope applied)."""
        if not self._within_limits(namespace):
            return None
        held = self.namespace_roles.get(namespace)
        if Role.ADMIN in self.global_roles:
            held = Role.ADMIN
        if held is None or self.scope is Role.AUDITOR:
            return None
        return held if held.rank <= self.scope.rank else self.scope

    def may_audit(self, namespace: str | None) -> bool:
        global_reader = bool({Role.ADMIN, Role.AUDITOR} & self.global_roles)
        scoped = self.scope in (Role.ADMIN, Role.AUDITOR)
        return global_reader and scoped and self._within_limits(namespace)

    @property
    def is_global_admin(self) -> bool:
        return (
            Role.ADMIN in self.global_roles
            and self.scope is Role.ADMIN
            and not self.namespace_limits
        )


def authorize(grants: Grants, permission: Permission, namespace: str | None = None) -> None:
    """Return None when ``grants`` hold ``permission`` (in ``namespace``); else raise
    :class:`PermissionDenied`. The single decision point for every route."""
    if permission is Permission.AUTHENTICATED:
        return
    if permission in _AUDITOR and grants.may_audit(namespace):
        return
    minimum = _NAMESPACE_MINIMUM.get(permission)
    if minimum is not None:
        if namespace is None:
            raise ValueError(f"{permission} needs a namespace")
        role = grants.namespace_role(namespace)
        if role is not None and role.rank >= minimum.rank:
            return
    elif grants.is_global_admin:
        return
    where = f" in namespace {namespace!r}" if namespace else ""
    raise PermissionDenied(f"{grants.principal.id} lacks {permission.value}{where}")


def _check(role: Role, namespace: str) -> None:
    allowed = GLOBAL_ROLES if namespace == GLOBAL else NAMESPACE_ROLES
    if role not in allowed:
        where = "globally" if namespace == GLOBAL else "in a namespace"
        raise ValueError(f"role {role.value!r} cannot be granted {where}")


def grant(conn: Connection, principal_id: str, role: Role, namespace: str = GLOBAL) -> None:
    """Give ``principal_id`` ``role`` in ``namespace`` (``GLOBAL`` for a global role)."""
    _check(role, namespace)
    exists = conn.execute(
        sa.select(role_grants.c.role).where(
            role_grants.c.principal == principal_id,
            role_grants.c.namespace == namespace,
            role_grants.c.role == role.value,
        )
    ).first()
    if exists is None:
        conn.execute(
            role_grants.insert().values(principal=principal_id, namespace=namespace, role=role)
        )


def _to_users(namespace: str) -> str:
    """A ``role_grants`` namespace as the identity table writes it (global: ``*``)."""
    return USER_GLOBAL if namespace == GLOBAL else namespace


def _from_users(namespace: str) -> str:
    return GLOBAL if namespace == USER_GLOBAL else namespace


def revoke(conn: Connection, principal_id: str, role: Role, namespace: str = GLOBAL) -> bool:
    """Remove the grant from both stores (``/v1/grants`` and ``bastion users grant`` write
    different tables, and both count for access); False when neither held it."""
    result = conn.execute(
        role_grants.delete().where(
            role_grants.c.principal == principal_id,
            role_grants.c.namespace == namespace,
            role_grants.c.role == role.value,
        )
    )
    from_users = revoke_row(conn, UserGrant(principal_id, _to_users(namespace), role))
    return result.rowcount > 0 or from_users


def list_grants(conn: Connection, namespace: str | None = None) -> list[tuple[str, str, Role, str]]:
    """(principal, namespace, role, source) rows, for one namespace or all, from both
    stores: source ``api`` (``/v1/grants``) or ``users`` (``bastion users grant``)."""
    query = sa.select(role_grants).order_by(role_grants.c.namespace, role_grants.c.principal)
    if namespace is not None:
        query = query.where(role_grants.c.namespace == namespace)
    rows = {(r.principal, r.namespace, Role(r.role)): "api" for r in conn.execute(query)}
    users = sa.select(user_grants.c.principal, user_grants.c.namespace, user_grants.c.role)
    if namespace is not None:
        users = users.where(user_grants.c.namespace == _to_users(namespace))
    for r in conn.execute(users):
        key = (r.principal, _from_users(r.namespace), Role(r.role))
        rows.setdefault(key, "users")
    return sorted((p, ns, role, source) for (p, ns, role), source in rows.items())


def combined_roles(conn: Connection, principal_id: str) -> list[UserGrant]:
    """A principal's roles from both stores, as the identity service's ``Grant`` rows:
    its own ``identity_user_grants`` and the API's ``role_grants`` (``/v1/grants``), so a
    role given either way counts the same for MFA and for the identity service's checks."""
    held = list(roles_for(conn, principal_id))
    for r in conn.execute(
        sa.select(role_grants.c.namespace, role_grants.c.role).where(
            role_grants.c.principal == principal_id
        )
    ):
        namespace = _to_users(r.namespace)
        extra = UserGrant(principal_id, namespace, Role(r.role))
        if extra not in held:
            held.append(extra)
    return held


def load_grants(
    conn: Connection,
    principal: Principal,
    *,
    scope: Role = Role.ADMIN,
    namespace_limits: tuple[str, ...] = (),
) -> Grants:
    """The principal's grants from both stores: ``role_grants`` (the API's grants) and,
    for users, the identity service's ``identity_user_grants`` (``*`` there is global)."""
    rows: list[tuple[str, str]] = [
        (r.namespace, r.role)
        for r in conn.execute(
            sa.select(role_grants.c.namespace, role_grants.c.role).where(
                role_grants.c.principal == principal.id
            )
        )
    ]
    if principal.kind is PrincipalKind.USER:
        rows.extend((_from_users(g.namespace), g.role.value) for g in roles_for(conn, principal.id))
    global_roles = frozenset(Role(role) for namespace, role in rows if namespace == GLOBAL)
    per_namespace: dict[str, Role] = {}
    for namespace, role_name in rows:
        if namespace != GLOBAL:
            role = Role(role_name)
            best = per_namespace.get(namespace)
            if best is None or role.rank > best.rank:
                per_namespace[namespace] = role
    return Grants(
        principal,
        global_roles,
        MappingProxyType(per_namespace),
        scope,
        namespace_limits,
    )
