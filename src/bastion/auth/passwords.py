"""Password hashing (Argon2id) and the password policy.

:class:`Argon2Hasher` wraps argon2-cffi with parameters from ``[auth]`` settings; a hash made
with other parameters verifies, and :meth:`Argon2Hasher.needs_rehash` tells the login code
to store a fresh one. The :class:`PasswordHasher` Protocol is what the identity service
depends on, so tests can count calls through a wrapper of the real hasher.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from bastion.auth.breached import is_breached
from bastion.auth.errors import AuthenticationFailed, PasswordRejected
from bastion.config import AuthSettings

MAX_PASSWORD_LENGTH = 1024  # bounds the hashing work one request can ask for


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...

    def verify(self, encoded: str, password: str) -> None:
        """Return None, or raise :class:`AuthenticationFailed`."""

    def needs_rehash(self, encoded: str) -> bool: ...


class Argon2Hasher:
    """Argon2id with stated parameters (memory in KiB)."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self.params = (time_cost, memory_kib, parallelism)
        self._ph = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> Argon2Hasher:
        return cls(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )

    def hash(self, password: str) -> str:
        return self._ph.hash(password[:MAX_PASSWORD_LENGTH])

    def verify(self, encoded: str, password: str) -> None:
        try:
            self._ph.verify(encoded, password[:MAX_PASSWORD_LENGTH])
        except (VerifyMismatchError, VerificationError, InvalidHashError) as exc:
            raise AuthenticationFailed() from exc

    def needs_rehash(self, encoded: str) -> bool:
        try:
            return self._ph.check_needs_rehash(encoded)
        except InvalidHashError:
            return True


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Rules for new passwords: length and a breached list, no composition rules (NIST 800-63B)."""

    min_length: int = 12
    max_length: int = MAX_PASSWORD_LENGTH

    def check(self, password: str, *, username: str) -> None:
        """Return None, or raise :class:`PasswordRejected` saying which rule failed."""
        if len(password) < self.min_length:
            raise PasswordRejected(f"password too short: use at least {self.min_length} characters")
        if len(password) > self.max_length:
            raise PasswordRejected(f"password too long: at most {self.max_length} characters")
        if username and username.lower() in password.lower():
            raise PasswordRejected("password contains the user name")
        if len(set(password)) < 4:
            raise PasswordRejected("password repeats too few characters")
        if is_breached(password):
            raise PasswordRejected(
                "password is on the list of commonly breached passwords (or a variant of one)"
            )
