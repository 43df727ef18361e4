"""Errors of the identity core, under :class:`~bastion.errors.BastionError`::

BastionError
└── AuthError                 base of everything below
    ├── AuthenticationFailed  wrong name, password, code or session: one message for all
    ├── MfaRequired           the password was right; a TOTP or recovery code is needed
    ├── Throttled             too many failures: wait ``retry_after`` seconds
    ├── PermissionDenied      authenticated, but the grants do not allow it
    ├── PasswordRejected      the password policy refused a new password
    ├── UserExists / UserNotFound
    └── MfaStateError         enrol, confirm or reset in the wrong order
"""

from __future__ import annotations

from bastion.errors import BastionError


class AuthError(BastionError):
    """Root of identity errors."""

    hint = "Check the user name and credentials."


class AuthenticationFailed(AuthError):
    """Deliberately vague: the same message whether the user exists or not."""

    hint = "Check the user name, password and code; repeated failures slow further attempts."

    def __init__(self, message: str = "invalid credentials") -> None:
        super().__init__(message)


class MfaRequired(AuthError):
    hint = "Give the current code from the authenticator app, or a recovery code."

    def __init__(
        self, message: str = "a second factor is required", *, ticket: str | None = None
    ) -> None:
        super().__init__(message)
        #: Proof that the password step passed, for :meth:`complete_login` (sealed, short-lived).
        self.ticket = ticket


class Throttled(AuthError):
    hint = "Too many failed attempts; wait and try again, or ask an admin to unlock the account."

    def __init__(self, retry_after: float, *, locked: bool = False) -> None:
        what = "locked" if locked else "throttled"
        super().__init__(f"login {what}: retry in {max(1, round(retry_after))} s")
        self.retry_after = retry_after
        self.locked = locked


class PermissionDenied(AuthError):
    hint = "Ask an admin, or a maintainer of the namespace, for the role."


class PasswordRejected(AuthError):
    hint = "Use a longer passphrase: several unrelated words work well."


class UserExists(AuthError):
    hint = "Pick another name, or manage the existing user."


class UserNotFound(AuthError):
    hint = "List users with `bastion users list`."


class MfaStateError(AuthError):
    hint = "Enrol with `bastion users mfa enrol`, then confirm with a current code."
