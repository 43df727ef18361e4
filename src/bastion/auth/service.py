"""The identity service: one object the server, the console and the CLI call.

    box = SecretBox.from_file(data_dir / "identity.key", create=True)
    service = IdentityService(engine, settings=settings.auth, audit=sink, secret_box=box)
    service.create_user(Operator(), "alice", "a long passphrase of words")
    issued = service.login("alice", "a long passphrase of words", source="203.0.113.7")
    session = service.authenticate(issued.token)

Account management lives in :mod:`bastion.auth.accounts`, logins, sessions and MFA
enrolment in :mod:`bastion.auth.login`; both share :class:`bastion.auth._core.ServiceCore`
(engine, settings, hasher, throttle, clock, audit sink).
"""

from __future__ import annotations

from bastion.auth._core import Actor, Operator
from bastion.auth.accounts import Accounts, User
from bastion.auth.login import MfaConfirmed
from bastion.auth.sso import SsoLogins


class IdentityService(Accounts, SsoLogins):
    """Users, roles, logins, sessions and MFA over one database. Thread-safe."""


__all__ = ["Actor", "IdentityService", "MfaConfirmed", "Operator", "User"]
