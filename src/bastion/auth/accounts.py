"""Managing users: create, disable, delete, grant and revoke roles, reset MFA, unlock,
list and revoke sessions. Every change, and every refusal, is an audit event."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from bastion.audit.base import Outcome
from bastion.auth import sessions as session_store
from bastion.auth._core import Actor, ServiceCore, check_user_name, user_principal
from bastion.auth.base import Principal, Role
from bastion.auth.errors import UserExists
from bastion.auth.rbac import combined_roles
from bastion.auth.sessions import Session
from bastion.auth.tables import recovery_codes, users
from bastion.auth.user_grants import (
    GLOBAL,
    Grant,
    can_grant,
    grant_row,
    revoke_all,
    revoke_row,
    roles_for,
    validate,
)

_SESSION_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True, slots=True)
class User:
    name: str
    disabled: bool
    mfa_enabled: bool
    created_at: int
    grants: tuple[Grant, ...]
    locked: bool


class Accounts(ServiceCore):
    def create_user(
        self, actor: Actor, name: str, password: str, *, source: str | None = None
    ) -> User:
        """Create an enabled user with no roles. The password must pass the policy."""
        check_user_name(name)
        with self.engine.begin() as conn:
            self.require_admin(conn, actor, action="user.create", resource=user_principal(name))
            if self.find_user(conn, name) is not None:
                raise UserExists(f"user {name!r} already exists")
            self.policy.check(password, username=name)
            conn.execute(
                insert(users).values(
                    name=name,
                    password_hash=self.hasher.hash(password),
                    disabled=False,
                    credential_epoch=0,
                    mfa_enabled=False,
                    created_at=self.now(),
                )
            )
        self.emit("user.create", actor.id, resource=user_principal(name), source=source)
        return self.get_user(name)

    def get_user(self, name: str) -> User:
        with self.engine.connect() as conn:
            return self._user(conn, self.require_user(conn, name))

    def _user(self, conn: Connection, row: Any) -> User:
        name: str = row.name
        return User(
            name=name,
            disabled=bool(row.disabled),
            mfa_enabled=bool(row.mfa_enabled),
            created_at=int(row.created_at),
            grants=tuple(roles_for(conn, user_principal(name))),
            locked=self.throttle.is_locked(name),
        )

    def list_users(self, actor: Actor) -> list[User]:
        with self.engine.connect() as conn:
            self.require_admin(conn, actor, action="user.list", resource=None)
            rows = conn.execute(select(users).order_by(users.c.name)).all()
            return [self._user(conn, row) for row in rows]

    def set_disabled(
        self, actor: Actor, name: str, *, disabled: bool, source: str | None = None
    ) -> None:
        """Disable (ending every session) or enable a user."""
        action = "user.disable" if disabled else "user.enable"
        with self.engine.begin() as conn:
            self.require_admin(conn, actor, action=action, resource=user_principal(name))
            row = self.require_user(conn, name)
            conn.execute(update(users).where(users.c.id == row.id).values(disabled=disabled))
            if disabled:
                self.bump_epoch(conn, row.id)
        self.emit(action, actor.id, resource=user_principal(name), source=source)

    def delete_user(self, actor: Actor, name: str, *, source: str | None = None) -> None:
        """Delete the user, their sessions, recovery codes and role grants."""
        with self.engine.begin() as conn:
            self.require_admin(conn, actor, action="user.delete", resource=user_principal(name))
            row = self.require_user(conn, name)
            conn.execute(delete(users).where(users.c.id == row.id))
            revoke_all(conn, user_principal(name))
        self.throttle.unlock(name)
        self.emit("user.delete", actor.id, resource=user_principal(name), source=source)

    def set_password(
        self, actor: Actor, name: str, password: str, *, source: str | None = None
    ) -> None:
        """An admin sets a user's password; every session of the user ends."""
        with self.engine.begin() as conn:
            self.require_admin(
                conn, actor, action="user.password.set", resource=user_principal(name)
            )
            row = self.require_user(conn, name)
            self.policy.check(password, username=name)
            conn.execute(
                update(users)
                .where(users.c.id == row.id)
                .values(password_hash=self.hasher.hash(password))
            )
            self.bump_epoch(conn, row.id)
        self.emit("user.password.set", actor.id, resource=user_principal(name), source=source)

    # --- roles -----------------------------------------------------------------------
    def grant(
        self,
        actor: Actor,
        name: str,
        role: Role,
        namespace: str = GLOBAL,
        *,
        source: str | None = None,
    ) -> bool:
        """Grant ``role`` in ``namespace`` (``*``: global). False if it was already held.

        A user who now needs MFA and has none loses their sessions, so the next login
        can only enrol.
        """
        grant = Grant(user_principal(name), namespace, role)
        validate(role, namespace)
        resource = f"{grant.principal}@{namespace}"
        with self.engine.begin() as conn:
            if not can_grant(self.actor_grants(conn, actor), grant):
                self.deny(actor, action="user.grant", resource=resource, reason=f"role {role}")
            row = self.require_user(conn, name)
            added = grant_row(conn, grant, granted_by=actor.id)
            grants = combined_roles(conn, grant.principal)
            if added and self.mfa_required(grants) and not row.mfa_enabled:
                self.bump_epoch(conn, row.id)
        if added:
            self.emit("user.grant", actor.id, resource=resource, source=source, role=role.value)
        return added

    def require_mfa_if_needed(self, name: str) -> bool:
        """After a role was granted elsewhere (the API's ``/v1/grants``): end the user's
        sessions when their roles now need MFA and they have none, as :meth:`grant` does,
        so the next login can only enrol. True when sessions were ended."""
        with self.engine.begin() as conn:
            row = self.find_user(conn, name)
            if row is None or row.mfa_enabled:
                return False
            if not self.mfa_required(combined_roles(conn, user_principal(name))):
                return False
            self.bump_epoch(conn, row.id)
        self.emit("session.revoke", "system", resource=user_principal(name),
                  reason="a role that needs MFA was granted", session="all")  # fmt: skip
        return True

    def revoke(
        self,
        actor: Actor,
        name: str,
        role: Role,
        namespace: str = GLOBAL,
        *,
        source: str | None = None,
    ) -> bool:
        """Revoke a grant; the same least-privilege rule as granting. False if not held."""
        grant = Grant(user_principal(name), namespace, role)
        resource = f"{grant.principal}@{namespace}"
        with self.engine.begin() as conn:
            if not can_grant(self.actor_grants(conn, actor), grant):
                self.deny(actor, action="user.revoke", resource=resource, reason=f"role {role}")
            removed = revoke_row(conn, grant)
        if removed:
            self.emit("user.revoke", actor.id, resource=resource, source=source, role=role.value)
        return removed

    # --- MFA, lockout and sessions ---------------------------------------------------
    def reset_mfa(self, actor: Actor, name: str, *, source: str | None = None) -> None:
        """Remove the user's second factor and recovery codes and end their sessions."""
        with self.engine.begin() as conn:
            self.require_admin(conn, actor, action="user.mfa.reset", resource=user_principal(name))
            row = self.require_user(conn, name)
            conn.execute(
                update(users)
                .where(users.c.id == row.id)
                .values(totp_secret=None, mfa_enabled=False, totp_last_step=None)
            )
            conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == row.id))
            self.bump_epoch(conn, row.id)
        self.emit("user.mfa.reset", actor.id, resource=user_principal(name), source=source)

    def unlock(self, actor: Actor, name: str, *, source: str | None = None) -> None:
        """Clear the account's failed-login count and lockout."""
        with self.engine.connect() as conn:
            self.require_admin(conn, actor, action="auth.unlock", resource=user_principal(name))
        was_locked = self.throttle.is_locked(name)
        self.throttle.unlock(name)
        self.emit(
            "auth.unlock", actor.id, resource=user_principal(name), source=source, locked=was_locked
        )

    def _self_or_admin(self, conn: Connection, actor: Actor, name: str, action: str) -> None:
        if isinstance(actor, Principal) and actor.id == user_principal(name):
            return
        self.require_admin(conn, actor, action=action, resource=user_principal(name))

    def list_sessions(self, actor: Actor, name: str) -> list[Session]:
        """The user's live sessions (their own, or anyone's for an admin)."""
        with self.engine.connect() as conn:
            self._self_or_admin(conn, actor, name, "session.list")
            row = self.require_user(conn, name)
            return session_store.list_active(conn, row.id, now=self.now())

    def revoke_sessions(
        self,
        actor: Actor,
        name: str,
        session_id: str | None = None,
        *,
        source: str | None = None,
    ) -> int:
        """Revoke one session by id, or all of the user's sessions; returns how many."""
        if session_id is not None and not _SESSION_ID.fullmatch(session_id):
            raise ValueError("a session id is 16 hexadecimal digits")
        with self.engine.begin() as conn:
            self._self_or_admin(conn, actor, name, "session.revoke")
            row = self.require_user(conn, name)
            count = session_store.revoke(conn, user_id=row.id, session_id=session_id)
        self.emit(
            "session.revoke",
            actor.id,
            outcome=Outcome.SUCCESS if count else Outcome.FAILURE,
            resource=user_principal(name),
            source=source,
            session=session_id or "all",
            revoked=count,
        )
        return count
