"""What a signer and a verifier are. Implementations: :mod:`bastion.integrity.keys`."""

from __future__ import annotations

from typing import Protocol

from bastion.integrity.bundle import Bundle


class Signer(Protocol):
    """Signs DSSE pre-authentication bytes and says what goes in the bundle with it."""

    def sign(self, message: bytes) -> bytes: ...

    @property
    def key_hint(self) -> str | None: ...

    @property
    def certificates(self) -> tuple[bytes, ...]: ...


class Verifier(Protocol):
    """Checks a bundle's signature; returns None or raises VerificationError."""

    def verify(self, bundle: Bundle) -> None: ...
