"""What the console needs from the server, and who is looking at a page.

The console sits beside the registry (layer 3) and imports neither it nor the server: the
server builds a :class:`ConsoleDeps` from its own state (its registry satisfies
:class:`ModelRegistry`, its error table gives each error its status) and mounts
:func:`bastion.console.create_console`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Engine

from bastion.audit import AuditSink
from bastion.auth.base import Principal
from bastion.auth.rbac import Grants, Permission, PermissionDenied, authorize
from bastion.auth.sessions import Session
from bastion.errors import BastionError

if TYPE_CHECKING:
    from bastion.audit.checkpoint import NoteVerifier
    from bastion.auth.oidc import OidcClient
    from bastion.auth.service import IdentityService

__all__ = ["QUARANTINED", "ConsoleDeps", "ModelRegistry", "Viewer"]

#: The state of a version that failed its namespace's policy (the registry's word for it).
QUARANTINED = "quarantined"


class ModelRegistry(Protocol):
    """What the console reads and does through the registry
    (:class:`bastion.registry.service.Registry`). It raises the registry's errors, which
    :attr:`ConsoleDeps.error_status` maps to HTTP statuses."""

    def namespaces(self) -> list[str]: ...
    def models(self, namespace: str) -> list[str]: ...
    def versions(self, namespace: str, model: str) -> list[dict[str, Any]]: ...
    def version_info(self, namespace: str, model: str, version: str) -> dict[str, Any]: ...
    def release(
        self, actor: str, namespace: str, model: str, version: str, reason: str
    ) -> None: ...


def _internal(exc: BastionError) -> int:
    return 500


@dataclass(frozen=True, slots=True)
class ConsoleDeps:
    """The server's parts the console reads and acts through."""

    engine: Engine
    registry: ModelRegistry
    audit: AuditSink
    identity: IdentityService | None  # None: no logins (argon2-cffi or pyotp is missing)
    audit_verifier: NoteVerifier | None = None
    # the HTTP status of an error the registry (or anything below) raised
    error_status: Callable[[BastionError], int] = _internal
    sso: OidcClient | None = None  # single sign-on, when configured
    # keys the CSRF tokens; a restart makes open forms stale, never valid for someone else
    csrf_key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)


@dataclass(frozen=True, slots=True)
class Viewer:
    """The logged-in user of one request: their session, grants and CSRF token."""

    session: Session
    grants: Grants
    csrf: str

    @property
    def principal(self) -> Principal:
        return self.session.principal

    @property
    def id(self) -> str:
        return self.principal.id

    def may(self, permission: Permission, namespace: str | None = None) -> bool:
        """Whether :func:`authorize` grants ``permission``: pages hide what it would deny."""
        try:
            authorize(self.grants, permission, namespace)
        except PermissionDenied:
            return False
        return True
