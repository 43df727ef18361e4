"""Principals and roles, shared by the registry, identity and the console.

A principal is whoever made a request, already authenticated: an API token, a logged-in
user, or a client certificate mapped to a name. What it may do comes only from role
grants (default deny); ``Principal`` carries no rights of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PrincipalKind(StrEnum):
    TOKEN = "token"  # noqa: S105 - a kind of principal, not a secret
    USER = "user"
    CERTIFICATE = "cert"


class Role(StrEnum):
    """Roles, ordered within a namespace: each includes the rights of those before it."""

    READER = "reader"
    PUBLISHER = "publisher"
    MAINTAINER = "maintainer"
    ADMIN = "admin"
    AUDITOR = "auditor"  # global: read-only on audit data, never model bytes

    @property
    def rank(self) -> int:
        return _RANK[self]


NAMESPACE_ROLES = (Role.READER, Role.PUBLISHER, Role.MAINTAINER, Role.ADMIN)
GLOBAL_ROLES = (Role.ADMIN, Role.AUDITOR)
_RANK = {role: i for i, role in enumerate(NAMESPACE_ROLES)} | {Role.AUDITOR: -1}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``id`` is stable and unique, e.g. ``user:alice``."""

    kind: PrincipalKind
    name: str
    mfa: bool = False  # authenticated with a second factor in this session

    @property
    def id(self) -> str:
        return f"{self.kind.value}:{self.name}"
