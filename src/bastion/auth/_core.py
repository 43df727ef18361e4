"""What the account and login halves of the identity service share: the engine, settings,
hasher, throttle, clock and audit sink, and the small database helpers both use."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import Connection, Engine, select, update

from bastion.audit.base import AuditEvent, AuditSink, DetailValue, Outcome
from bastion.auth.base import Principal, PrincipalKind, Role
from bastion.auth.errors import PermissionDenied, UserNotFound
from bastion.auth.passwords import Argon2Hasher, PasswordHasher, PasswordPolicy
from bastion.auth.rbac import combined_roles
from bastion.auth.secretbox import SecretBox
from bastion.auth.tables import users
from bastion.auth.throttle import LoginThrottle, MemoryThrottleStore
from bastion.auth.user_grants import Grant, needs_mfa
from bastion.config import AuthSettings
from bastion.errors import VerificationError

USER_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class Operator:
    """Someone with direct access to the database (``bastion users`` on the server host).

    Whoever can write the database can do anything, so an operator has every right; their
    actions are audited under ``operator:NAME`` all the same.
    """

    name: str = "local"

    @property
    def id(self) -> str:
        return f"operator:{self.name}"


Actor = Principal | Operator


def check_user_name(name: str) -> None:
    if not USER_NAME.fullmatch(name):
        raise UserNotFound(
            f"invalid user name {name[:80]!r}",
            hint="Use 1 to 64 lower-case letters, digits, '.', '_' or '-', starting alphanumeric.",
        )


def user_principal(name: str) -> str:
    return Principal(PrincipalKind.USER, name).id


class ServiceCore:
    def __init__(
        self,
        engine: Engine,
        *,
        settings: AuthSettings,
        audit: AuditSink,
        secret_box: SecretBox,
        hasher: PasswordHasher | None = None,
        throttle: LoginThrottle | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.audit = audit
        self.secret_box = secret_box
        self.hasher = hasher if hasher is not None else Argon2Hasher.from_settings(settings)
        self.throttle = (
            throttle
            if throttle is not None
            else LoginThrottle.from_settings(MemoryThrottleStore(), settings, clock=clock)
        )
        self.policy = PasswordPolicy(min_length=settings.min_password_length)
        self.clock = clock
        # Unknown users are checked against this, so they cost one hash like everyone else.
        self._dummy_hash = self.hasher.hash(secrets.token_urlsafe(24))

    def now(self) -> int:
        return int(self.clock())

    def emit(
        self,
        action: str,
        actor: str,
        *,
        outcome: Outcome = Outcome.SUCCESS,
        resource: str | None = None,
        source: str | None = None,
        reason: str | None = None,
        **details: DetailValue,
    ) -> None:
        self.audit.emit(
            AuditEvent(
                action=action,
                actor=actor,
                outcome=outcome,
                resource=resource,
                source=source,
                reason=reason,
                details=details,
            )
        )

    # --- database helpers ------------------------------------------------------------
    @staticmethod
    def find_user(conn: Connection, name: str) -> Any:
        return conn.execute(select(users).where(users.c.name == name)).first()

    def require_user(self, conn: Connection, name: str) -> Any:
        row = self.find_user(conn, name) if USER_NAME.fullmatch(name) else None
        if row is None:
            raise UserNotFound(f"no user named {name!r}")
        return row

    @staticmethod
    def bump_epoch(conn: Connection, user_id: int) -> None:
        conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(credential_epoch=users.c.credential_epoch + 1)
        )

    def seal_totp(self, name: str, secret: str) -> str:
        return self.secret_box.seal(secret, owner=f"totp:{name}")

    def open_totp(self, row: Any) -> str | None:
        """The user's TOTP secret, or None when there is none or this key cannot open it."""
        if not row.totp_secret:
            return None
        try:
            return self.secret_box.open(row.totp_secret, owner=f"totp:{row.name}")
        except VerificationError:
            return None

    def mfa_required(self, grants: list[Grant]) -> bool:
        return self.settings.mfa_required_for_all or needs_mfa(grants)

    # --- authorization ---------------------------------------------------------------
    @staticmethod
    def actor_grants(conn: Connection, actor: Actor) -> list[Grant]:
        if isinstance(actor, Operator):
            return [Grant(actor.id, "*", Role.ADMIN)]
        return combined_roles(conn, actor.id)

    def require_admin(
        self, conn: Connection, actor: Actor, *, action: str, resource: str | None
    ) -> None:
        """Return None when ``actor`` is a global admin (or an operator); else audit and raise."""
        if any(g.is_global and g.role is Role.ADMIN for g in self.actor_grants(conn, actor)):
            return
        self.deny(actor, action=action, resource=resource, reason="needs the global admin role")

    def deny(self, actor: Actor, *, action: str, resource: str | None, reason: str) -> NoReturn:
        self.emit(action, actor.id, outcome=Outcome.DENIED, resource=resource, reason=reason)
        raise PermissionDenied(f"permission denied: {action} {resource or ''} {reason}".strip())
