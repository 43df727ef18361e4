"""Logging in with an identity from single sign-on (see :mod:`bastion.auth.oidc`).

The first login creates the user (with no usable password); every login replaces the
roles that single sign-on granted with those the provider's groups map to now, leaving
roles granted by people alone. MFA: a provider that reports a second factor (``amr``)
satisfies it; otherwise a user with local TOTP must give a code, and a user who needs MFA
and has none gets an enrol-only session, as with passwords.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, insert

from bastion.auth import sessions as session_store
from bastion.auth._core import USER_NAME, user_principal
from bastion.auth.errors import AuthenticationFailed, MfaRequired
from bastion.auth.login import Logins
from bastion.auth.rbac import combined_roles
from bastion.auth.sessions import IssuedSession, SessionScope
from bastion.auth.tables import users
from bastion.auth.user_grants import Grant, grant_row, roles_for, user_grants

if TYPE_CHECKING:  # oidc needs httpx and pyjwt, which password logins do not
    from bastion.auth.oidc import OidcIdentity

SSO_GRANTOR = "sso"
UNUSABLE_PASSWORD = "!sso"  # not an Argon2 hash: no password ever verifies against it  # noqa: S105


class SsoLogins(Logins):
    def sso_login(
        self, identity: OidcIdentity, *, code: str | None = None, source: str | None = None
    ) -> IssuedSession:
        name = identity.username.lower()
        if not USER_NAME.fullmatch(name):
            raise AuthenticationFailed("the provider's user name is not a valid Bastion name")
        actor = user_principal(name)
        self.throttle.check(name, source)
        with self.engine.begin() as conn:
            row = self.find_user(conn, name)
            if row is None:
                conn.execute(
                    insert(users).values(name=name, password_hash=UNUSABLE_PASSWORD, disabled=False,
                                         credential_epoch=0, mfa_enabled=False,
                                         created_at=self.now())
                )  # fmt: skip
                self.emit("user.create", SSO_GRANTOR, resource=actor, source=source,
                          subject=identity.subject)  # fmt: skip
                row = self.require_user(conn, name)
            if row.disabled:
                raise AuthenticationFailed()
            self._sync_roles(conn, actor, identity, source)
            mfa = identity.mfa
            if not mfa and row.mfa_enabled:
                if code is None:
                    raise MfaRequired(ticket=self._ticket(row))
                if self._second_factor(conn, row, code) is None:
                    self._failed(name, actor, source, "wrong or replayed code")
                mfa = True
            need = self.mfa_required(combined_roles(conn, actor))
            scope = SessionScope.ENROL_MFA if need and not mfa else SessionScope.FULL
            ttl = (self.settings.session_ttl_seconds if scope is SessionScope.FULL
                   else self.settings.enrol_session_ttl_seconds)  # fmt: skip
            issued = session_store.issue(
                conn, user_id=row.id, user=name, epoch=row.credential_epoch, scope=scope,
                mfa=mfa, ttl=ttl, source=source, now=self.now(),
            )  # fmt: skip
        self.emit("auth.login", actor, source=source, scope=scope.value, method="oidc",
                  second_factor="provider" if identity.mfa else "totp" if mfa else "none",
                  session=issued.session.id)  # fmt: skip
        return issued

    def _sync_roles(
        self, conn: Connection, actor: str, identity: OidcIdentity, source: str | None
    ) -> None:
        wanted = {Grant(actor, gr.namespace, gr.role) for gr in identity.roles}
        held = set(roles_for(conn, actor))
        conn.execute(
            delete(user_grants).where(
                user_grants.c.principal == actor, user_grants.c.granted_by == SSO_GRANTOR
            )
        )
        for grant in sorted(wanted):
            grant_row(conn, grant, granted_by=SSO_GRANTOR)
        now_held = set(roles_for(conn, actor))
        for grant in sorted(now_held - held):
            self.emit("user.grant", SSO_GRANTOR, resource=f"{actor}@{grant.namespace}",
                      source=source, role=grant.role.value)  # fmt: skip
        for grant in sorted(held - now_held):
            self.emit("user.revoke", SSO_GRANTOR, resource=f"{actor}@{grant.namespace}",
                      source=source, role=grant.role.value)  # fmt: skip
