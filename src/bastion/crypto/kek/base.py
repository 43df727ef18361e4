"""Key-encryption keys (KEKs): the Protocol every provider implements, and its value types.

A data key (one per blob, see :mod:`bastion.crypto.envelope`) is stored only wrapped:
encrypted under a KEK that a provider holds (a local key file, or a PKCS#11 token where the
KEK never leaves the hardware). A KEK has an id and numbered versions; wrapping always uses
the current version, unwrapping any version the provider still holds, so :func:`rewrap`
moves a data key to a new version without touching the data it protects.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bastion.errors import BastionError, IntegrityError

__all__ = [
    "KeyProvider",
    "KeyProviderError",
    "KeyRef",
    "WrappedKey",
    "rewrap",
    "wrap_aad",
]

_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_MAGIC = b"BWK\x01"  # Bastion wrapped key, format 1
_HEAD = struct.Struct(">4sH")
_TAIL = struct.Struct(">IH")
MAX_WRAPPED_SIZE = 1024
DATA_KEY_SIZE = 32


class KeyProviderError(BastionError):
    """A key provider cannot be opened or used: a missing or unsafe key file, a PKCS#11
    module, token or PIN that does not work."""

    hint = (
        "Check the key provider's settings: the key file's path and permissions (0600), "
        "or the PKCS#11 module, token label and PIN."
    )


def _check_key_id(key_id: str) -> None:
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"invalid key id {key_id!r}: 1 to 128 letters, digits, '.', '_' or '-'")


def _check_version(version: int) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version < 2**32:
        raise ValueError(f"invalid key version {version!r}: an integer from 1")


@dataclass(frozen=True)
class KeyRef:
    """One version of a key-encryption key."""

    key_id: str
    version: int

    def __post_init__(self) -> None:
        _check_key_id(self.key_id)
        _check_version(self.version)


@dataclass(frozen=True)
class WrappedKey:
    """A data key encrypted under ``key_id`` version ``version``; safe to store anywhere."""

    key_id: str
    version: int
    ciphertext: bytes

    def __post_init__(self) -> None:
        _check_key_id(self.key_id)
        _check_version(self.version)
        if not isinstance(self.ciphertext, bytes) or not 0 < len(self.ciphertext) <= 512:
            raise ValueError("a wrapped key's ciphertext is 1 to 512 bytes")

    @property
    def ref(self) -> KeyRef:
        return KeyRef(self.key_id, self.version)

    def to_bytes(self) -> bytes:
        """``BWK\\x01`` | key id length (2) | key id | version (4) | length (2) | ciphertext."""
        key_id = self.key_id.encode("ascii")
        return (
            _HEAD.pack(_MAGIC, len(key_id))
            + key_id
            + _TAIL.pack(self.version, len(self.ciphertext))
            + self.ciphertext
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> WrappedKey:
        """Parse :meth:`to_bytes`' output; anything else raises :class:`IntegrityError`."""
        try:
            if len(data) > MAX_WRAPPED_SIZE:
                raise ValueError("too long")
            magic, id_len = _HEAD.unpack_from(data)
            if magic != _MAGIC:
                raise ValueError("bad magic")
            key_id = bytes(data[_HEAD.size : _HEAD.size + id_len]).decode("ascii")
            offset = _HEAD.size + id_len
            version, ct_len = _TAIL.unpack_from(data, offset)
            ciphertext = bytes(data[offset + _TAIL.size :])
            if len(ciphertext) != ct_len or len(key_id) != id_len:
                raise ValueError("length mismatch")
            return cls(key_id, version, ciphertext)
        except (ValueError, struct.error) as exc:  # UnicodeDecodeError is a ValueError
            raise IntegrityError(f"not a valid wrapped key ({exc})") from None


def wrap_aad(key_id: str, version: int, context: bytes) -> bytes:
    """The associated data every provider binds to a wrapped key: the KEK's id and version
    (so a wrapped key cannot be relabelled) and the caller's ``context`` (so it cannot be
    moved to another blob)."""
    key = key_id.encode("ascii")
    return (
        b"bastion-wrap-v1\x00"
        + struct.pack(">H", len(key))
        + key
        + struct.pack(">I", version)
        + bytes(context)
    )


@runtime_checkable
class KeyProvider(Protocol):
    """Holds key-encryption keys; never hands one out."""

    name: str

    def current(self) -> KeyRef:
        """The version :meth:`wrap` uses now."""
        ...

    def wrap(self, data_key: bytes, *, context: bytes) -> WrappedKey:
        """Encrypt ``data_key`` under the current version, bound to ``context``."""
        ...

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        """The data key, if ``wrapped`` is authentic for ``context`` under a version still
        held; else raise :class:`IntegrityError`."""
        ...

    def rotate(self) -> KeyRef:
        """Make a new version current; older versions stay available to :meth:`unwrap`."""
        ...


def rewrap(wrapped: WrappedKey, provider: KeyProvider, *, context: bytes) -> WrappedKey:
    """Unwrap ``wrapped`` and wrap its data key again under the provider's current version.

    The data it protects is not touched: rotation costs one unwrap and one wrap per blob.
    """
    data_key = provider.unwrap(wrapped, context=context)
    return provider.wrap(data_key, context=context)
