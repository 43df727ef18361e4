"""Encryption at rest for the few secrets the server must read back (TOTP seeds).

AES-256-GCM with a random 96-bit nonce per value, and the owner (e.g. ``totp:alice``) as
associated data, so a sealed value copied to another user's row does not open. The key is
32 random bytes in a file of its own (mode 0600), kept apart from the database: a stolen
database dump alone does not give away anyone's second factor.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bastion.errors import ConfigError, VerificationError

_VERSION = "v1:"
KEY_BYTES = 32


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigError("an identity key is 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def generate(cls) -> SecretBox:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_file(cls, path: Path, *, create: bool = False) -> SecretBox:
        """Load the key from ``path`` (base64), creating it with mode 0600 when asked."""
        if create and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            key = secrets.token_bytes(KEY_BYTES)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first: read theirs
            else:
                with os.fdopen(fd, "w", encoding="ascii") as fh:
                    fh.write(base64.b64encode(key).decode("ascii") + "\n")
        try:
            return cls(base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"cannot read the identity key {path}: {exc}",
                hint="Restore the key file from backup; without it, users must re-enrol MFA.",
            ) from exc

    def seal(self, plaintext: str, *, owner: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode("utf-8"), owner.encode("utf-8"))
        return _VERSION + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, *, owner: str) -> str:
        """The plaintext, or :class:`VerificationError` for a value this key did not seal."""
        if not sealed.startswith(_VERSION):
            raise VerificationError("not a sealed value")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(_VERSION) :])
            plain = self._aead.decrypt(raw[:12], raw[12:], owner.encode("utf-8"))
        except (ValueError, InvalidTag) as exc:
            raise VerificationError("sealed value does not open with this key") from exc
        return plain.decode("utf-8")
