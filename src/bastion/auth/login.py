"""Logging in and what a session may do: password, second factor, sessions, MFA enrolment.

Every attempt costs the same: an unknown name, a disabled user and a wrong password all
run exactly one password verification (unknown names against a dummy hash), count one
failure for the account and the source, and raise the same :class:`AuthenticationFailed`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NoReturn

from sqlalchemy import Connection, delete, func, insert, select, update

from bastion.audit.base import Outcome
from bastion.auth import sessions as session_store
from bastion.auth import totp
from bastion.auth._core import USER_NAME, Actor, ServiceCore, user_principal
from bastion.auth.errors import (
    AuthenticationFailed,
    MfaRequired,
    MfaStateError,
    PermissionDenied,
    Throttled,
)
from bastion.auth.rbac import combined_roles
from bastion.auth.sessions import IssuedSession, Session, SessionScope
from bastion.auth.tables import recovery_codes, users
from bastion.errors import VerificationError

#: How long the password step of a two-step login stays good for its second step.
TICKET_SECONDS = 300
_TICKET_OWNER = "login-ticket"


@dataclass(frozen=True, slots=True)
class MfaConfirmed:
    """MFA is on. Show the recovery codes once; they are stored only as hashes."""

    recovery_codes: tuple[str, ...]
    session: IssuedSession | None  # a new full session, when confirmed from a session


class Logins(ServiceCore):
    def login(
        self,
        name: str,
        password: str,
        *,
        code: str | None = None,
        source: str | None = None,
    ) -> IssuedSession:
        """Check the password (and the second factor, when the user has one); open a session.

        Raises :class:`Throttled` while the account or source must wait,
        :class:`AuthenticationFailed` for any wrong credential, and :class:`MfaRequired`
        when the password was right and a code is needed.
        """
        valid_name = USER_NAME.fullmatch(name) is not None
        actor = user_principal(name) if valid_name else "anonymous"
        try:
            self.throttle.check(name, source)
        except Throttled as exc:
            self.emit("auth.login", actor, outcome=Outcome.DENIED, source=source,
                      reason="throttled", locked=exc.locked)  # fmt: skip
            raise
        with self.engine.begin() as conn:
            # a name that cannot exist is never sent to the database, but costs the same
            row = self.find_user(conn, name) if valid_name else None
            try:
                self.hasher.verify(row.password_hash if row else self._dummy_hash, password)
                ok = row is not None and not row.disabled
            except AuthenticationFailed:
                ok = False
            if not ok or row is None:
                reason = "unknown user" if row is None else "disabled" if row.disabled else None
                self._failed(name, actor, source, reason or "wrong password")
            if self.hasher.needs_rehash(row.password_hash):
                conn.execute(
                    update(users)
                    .where(users.c.id == row.id)
                    .values(password_hash=self.hasher.hash(password))
                )
            return self._open_session(conn, row, code=code, source=source)

    def complete_login(self, ticket: str, code: str, *, source: str | None = None) -> IssuedSession:
        """The second step of a two-step login (a web form): the ``ticket`` of the
        :class:`MfaRequired` that the password step raised, and a TOTP or recovery code.

        The ticket is sealed with the identity key, names the user and their credential
        epoch, and expires after :data:`TICKET_SECONDS`; a password change, MFA reset or
        disabling in between voids it. Failures count towards throttling like any login.
        """
        try:
            data = json.loads(self.secret_box.open(ticket, owner=_TICKET_OWNER))
            name, epoch, expires = str(data["user"]), int(data["epoch"]), int(data["exp"])
        except (VerificationError, ValueError, KeyError, TypeError):
            raise AuthenticationFailed() from None
        actor = user_principal(name) if USER_NAME.fullmatch(name) else "anonymous"
        if expires < self.now():
            self.emit("auth.login", actor, outcome=Outcome.FAILURE, source=source,
                      reason="login ticket expired")  # fmt: skip
            raise AuthenticationFailed("the login took too long: give the password again")
        try:
            self.throttle.check(name, source)
        except Throttled as exc:
            self.emit("auth.login", actor, outcome=Outcome.DENIED, source=source,
                      reason="throttled", locked=exc.locked)  # fmt: skip
            raise
        with self.engine.begin() as conn:
            row = self.find_user(conn, name)
            if row is None or row.disabled or row.credential_epoch != epoch or not row.mfa_enabled:
                self._failed(name, actor, source, "login ticket no longer valid")
            return self._open_session(conn, row, code=code, source=source)

    def _ticket(self, row: Any) -> str:
        body = {"user": row.name, "epoch": row.credential_epoch, "exp": self.now() + TICKET_SECONDS}
        return self.secret_box.seal(json.dumps(body), owner=_TICKET_OWNER)

    def _failed(self, name: str, actor: str, source: str | None, reason: str) -> NoReturn:
        locked = self.throttle.failure(name, source)
        self.emit("auth.login", actor, outcome=Outcome.FAILURE, source=source, reason=reason)
        if locked:
            self.emit("auth.lockout", actor, outcome=Outcome.DENIED, source=source,
                      reason="too many failed logins")  # fmt: skip
        raise AuthenticationFailed()

    def _open_session(
        self, conn: Connection, row: Any, *, code: str | None, source: str | None
    ) -> IssuedSession:
        actor = user_principal(row.name)
        if row.mfa_enabled:
            if code is None:
                self.emit("auth.login", actor, outcome=Outcome.FAILURE, source=source,
                          reason="second factor required")  # fmt: skip
                raise MfaRequired(ticket=self._ticket(row))
            method = self._second_factor(conn, row, code)
            if method is None:
                self._failed(row.name, actor, source, "wrong or replayed code")
            scope, mfa = SessionScope.FULL, True
        elif self.mfa_required(combined_roles(conn, actor)):
            scope, mfa, method = SessionScope.ENROL_MFA, False, "none"
        else:
            scope, mfa, method = SessionScope.FULL, False, "none"
        ttl = (
            self.settings.session_ttl_seconds
            if scope is SessionScope.FULL
            else self.settings.enrol_session_ttl_seconds
        )
        issued = session_store.issue(
            conn, user_id=row.id, user=row.name, epoch=row.credential_epoch, scope=scope,
            mfa=mfa, ttl=ttl, source=source, now=self.now(),
        )  # fmt: skip
        self.throttle.success(row.name)
        left = None  # how close the user is to running out of recovery codes
        if method == "recovery":
            left = conn.execute(
                select(func.count()).select_from(recovery_codes).where(
                    recovery_codes.c.user_id == row.id, recovery_codes.c.used_at.is_(None))
            ).scalar_one()  # fmt: skip
        self.emit("auth.login", actor, source=source, scope=scope.value, second_factor=method,
                  session=issued.session.id, recovery_codes_left=left)  # fmt: skip
        return issued

    def _second_factor(self, conn: Connection, row: Any, code: str) -> str | None:
        """ "totp" or "recovery" for an accepted code, None otherwise. Each code works once."""
        secret = self.open_totp(row)
        step = totp.matching_step(secret, code, now=self.clock()) if secret else None
        if step is not None:
            # Atomic: of two logins with the same code, only one moves the step forward.
            moved = conn.execute(
                update(users)
                .where(
                    users.c.id == row.id,
                    (users.c.totp_last_step.is_(None)) | (users.c.totp_last_step < step),
                )
                .values(totp_last_step=step)
            ).rowcount
            return "totp" if moved == 1 else None
        used = conn.execute(
            update(recovery_codes)
            .where(
                recovery_codes.c.user_id == row.id,
                recovery_codes.c.code_hash == totp.hash_recovery_code(code),
                recovery_codes.c.used_at.is_(None),
            )
            .values(used_at=self.now())
        ).rowcount
        return "recovery" if used == 1 else None

    # --- sessions --------------------------------------------------------------------
    def authenticate(self, token: str, *, scope: SessionScope = SessionScope.FULL) -> Session:
        """The live session for ``token``, which must allow ``scope``.

        A full session can do everything an enrol-only one can, not the other way round.
        """
        with self.engine.connect() as conn:
            session = session_store.resolve(conn, token, now=self.now())
        if scope is SessionScope.FULL and session.scope is not SessionScope.FULL:
            raise PermissionDenied(
                "this session may only enrol a second factor",
                hint="Run the MFA enrolment, then log in again.",
            )
        return session

    def logout(self, token: str) -> None:
        with self.engine.begin() as conn:
            session = session_store.resolve(conn, token, now=self.now())
            row = self.require_user(conn, session.user)
            session_store.revoke(conn, user_id=row.id, session_id=session.id)
        self.emit("auth.logout", user_principal(session.user), session=session.id)

    def change_password(
        self, token: str, old: str, new: str, *, source: str | None = None
    ) -> IssuedSession:
        """Change one's own password; every session ends and a new one is returned."""
        session = self.authenticate(token)
        self.throttle.check(session.user, source)  # a stolen session cannot guess the password
        with self.engine.begin() as conn:
            row = self.require_user(conn, session.user)
            try:
                self.hasher.verify(row.password_hash, old)
            except AuthenticationFailed:
                self._failed(row.name, user_principal(row.name), source, "wrong old password")
            self.policy.check(new, username=row.name)
            conn.execute(
                update(users)
                .where(users.c.id == row.id)
                .values(password_hash=self.hasher.hash(new),
                        credential_epoch=users.c.credential_epoch + 1)
            )  # fmt: skip
            issued = session_store.issue(
                conn, user_id=row.id, user=row.name, epoch=row.credential_epoch + 1,
                scope=SessionScope.FULL, mfa=session.mfa, ttl=self.settings.session_ttl_seconds,
                source=source, now=self.now(),
            )  # fmt: skip
        self.emit("user.password.change", user_principal(row.name), source=source)
        return issued

    # --- MFA enrolment ---------------------------------------------------------------
    def enrol_mfa(self, token: str) -> totp.Enrolment:
        """Start TOTP enrolment for the session's own user (any session scope)."""
        session = self.authenticate(token, scope=SessionScope.ENROL_MFA)
        return self._begin(session.user, user_principal(session.user))

    def enrol_mfa_for(self, actor: Actor, name: str) -> totp.Enrolment:
        """An operator or admin starts enrolment for ``name`` (who scans the code)."""
        with self.engine.connect() as conn:
            self.require_admin(conn, actor, action="user.mfa.enrol", resource=user_principal(name))
        return self._begin(name, actor.id)

    def _begin(self, name: str, actor: str) -> totp.Enrolment:
        with self.engine.begin() as conn:
            row = self.require_user(conn, name)
            if row.mfa_enabled:
                raise MfaStateError("MFA is already on for this user: reset it to enrol again")
            enrolment = totp.new_enrolment(account=name, issuer=self.settings.totp_issuer)
            conn.execute(
                update(users)
                .where(users.c.id == row.id)
                .values(totp_secret=self.seal_totp(name, enrolment.secret), totp_last_step=None)
            )
        self.emit("user.mfa.enrol", actor, resource=user_principal(name))
        return enrolment

    def confirm_mfa(self, token: str, code: str, *, source: str | None = None) -> MfaConfirmed:
        """Turn MFA on with a current code; the enrol-only session becomes a full one."""
        session = self.authenticate(token, scope=SessionScope.ENROL_MFA)
        with self.engine.begin() as conn:
            row, codes = self._confirm(conn, session.user, code, user_principal(session.user))
            session_store.revoke(conn, user_id=row.id, session_id=session.id)
            issued = session_store.issue(
                conn, user_id=row.id, user=row.name, epoch=row.credential_epoch,
                scope=SessionScope.FULL, mfa=True, ttl=self.settings.session_ttl_seconds,
                source=source, now=self.now(),
            )  # fmt: skip
        return MfaConfirmed(tuple(codes), issued)

    def confirm_mfa_for(self, actor: Actor, name: str, code: str) -> MfaConfirmed:
        with self.engine.begin() as conn:
            self.require_admin(
                conn, actor, action="user.mfa.confirm", resource=user_principal(name)
            )
            _, codes = self._confirm(conn, name, code, actor.id)
        return MfaConfirmed(tuple(codes), None)

    def _confirm(self, conn: Connection, name: str, code: str, actor: str) -> tuple[Any, list[str]]:
        row = self.require_user(conn, name)
        secret = self.open_totp(row)
        if row.mfa_enabled or secret is None:
            raise MfaStateError("no MFA enrolment is waiting for confirmation")
        step = totp.matching_step(secret, code, now=self.clock())
        if step is None:
            self.emit("user.mfa.confirm", actor, outcome=Outcome.FAILURE,
                      resource=user_principal(name), reason="wrong code")  # fmt: skip
            raise AuthenticationFailed("wrong code: check the authenticator's clock and retry")
        moved = conn.execute(
            update(users)
            .where(users.c.id == row.id, users.c.mfa_enabled.is_(False),
                   users.c.totp_secret == row.totp_secret)
            .values(mfa_enabled=True, totp_last_step=step)
        ).rowcount  # fmt: skip
        if moved != 1:
            raise MfaStateError("the enrolment changed meanwhile: start again")
        codes = totp.new_recovery_codes()
        conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == row.id))
        conn.execute(
            insert(recovery_codes),
            [{"user_id": row.id, "code_hash": totp.hash_recovery_code(c)} for c in codes],
        )
        self.emit("user.mfa.confirm", actor, resource=user_principal(name),
                  recovery_codes=len(codes))  # fmt: skip
        return row, codes
