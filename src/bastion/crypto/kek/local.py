"""A key-encryption key kept in a local file: the default provider of a single server.

The file is JSON with every version of a 32-byte AES key (base64)::

    {"format": "bastion-kek", "format_version": 1, "key_id": "local", "current": 2,
     "keys": {"1": "...", "2": "..."}}

It is created with mode 0600 and refused when group or others may read it; every write goes
to a temporary file that is flushed to disk and renamed over the old one, so a crash leaves
either the old file or the new, never half of one. Several processes may share the file (a
server's workers): rotation holds an exclusive lock on a ``.NAME.lock`` file beside it and
re-reads the file under the lock, and a provider reloads the file when it sees it replaced
(one ``stat`` per call), so every process wraps with the newest version.

Wrapping is AES-256-GCM (``cryptography``) with a random 96-bit nonce and
:func:`~bastion.crypto.kek.base.wrap_aad` as associated data.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bastion.crypto.kek.base import (
    DATA_KEY_SIZE,
    KeyProviderError,
    KeyRef,
    WrappedKey,
    _check_key_id,
    wrap_aad,
)
from bastion.errors import IntegrityError

__all__ = ["LocalKeyFileProvider"]

_FORMAT = "bastion-kek"
_FORMAT_VERSION = 1
_NONCE = 12
_MAX_FILE = 1 << 20


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes, *, replace: bool) -> None:
    """Write ``data`` to ``path`` (mode 0600) all at once; without ``replace``, never
    overwrite an existing file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if path exists: create() never overwrites a key
            tmp.unlink()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _read_private(path: Path) -> bytes:
    """The file's bytes, if it is a regular file that only its owner may read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise KeyProviderError(f"cannot open key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeyProviderError(f"key file {path} is not a regular file")
        if info.st_mode & 0o077:
            raise KeyProviderError(
                f"key file {path} may be read by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):o}); refusing to use it",
                hint=f"Run `chmod 600 {path}` if nobody else has read it; else rotate the key.",
            )
        return f.read(_MAX_FILE + 1)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(
        path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _stamp(path: Path) -> tuple[int, int]:
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError:
        return (0, 0)
    return (info.st_ino, info.st_mtime_ns)


def _parse(data: bytes, path: Path) -> tuple[str, int, dict[int, bytes]]:
    try:
        if len(data) > _MAX_FILE:
            raise ValueError("larger than 1 MiB")
        doc = json.loads(data)
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        if doc.get("format") != _FORMAT or doc.get("format_version") != _FORMAT_VERSION:
            raise ValueError("not a Bastion key file, or an unsupported format version")
        key_id, current, raw = doc["key_id"], doc["current"], doc["keys"]
        _check_key_id(key_id)
        if not isinstance(raw, dict) or not isinstance(current, int):
            raise ValueError("bad 'keys' or 'current'")
        keys = {int(v): base64.b64decode(k, validate=True) for v, k in raw.items()}
        if any(len(k) != DATA_KEY_SIZE or v < 1 for v, k in keys.items()):
            raise ValueError("every key is 32 bytes, every version from 1")
        if current not in keys:
            raise ValueError("the current version is not in the file")
    except (ValueError, KeyError, TypeError, RecursionError, binascii.Error) as exc:
        raise KeyProviderError(f"key file {path} is invalid: {exc}") from None
    return key_id, current, keys


class LocalKeyFileProvider:
    """:class:`~bastion.crypto.kek.base.KeyProvider` backed by a 0600 key file."""

    name: str = "local"

    def __init__(self, path: Path, key_id: str, current: int, keys: dict[int, bytes]) -> None:
        """Use :meth:`create` or :meth:`open`."""
        self._path = Path(path)
        self._key_id = key_id
        self._current = current
        self._keys = dict(keys)
        self._stamp = _stamp(self._path)

    def _refresh(self) -> None:
        """Reload the file if another provider (or process) replaced it since we read it."""
        if _stamp(self._path) == self._stamp:
            return
        stamp = _stamp(self._path)
        key_id, current, keys = _parse(_read_private(self._path), self._path)
        if key_id != self._key_id:
            raise KeyProviderError(
                f"key file {self._path} now holds key {key_id!r}, not {self._key_id!r}"
            )
        self._keys = {**self._keys, **keys}
        self._current = max(current, self._current)
        self._stamp = stamp

    @classmethod
    def create(cls, path: Path, *, key_id: str = "local") -> LocalKeyFileProvider:
        """A new key file at ``path`` with version 1 of a random key; never overwrites."""
        _check_key_id(key_id)
        provider = cls(Path(path), key_id, 1, {1: os.urandom(DATA_KEY_SIZE)})
        try:
            _write_atomic(provider._path, provider._dump(), replace=False)
        except FileExistsError:
            raise KeyProviderError(
                f"key file {path} already exists; refusing to overwrite a key",
                hint="Open it instead, or move it away if it is really unused.",
            ) from None
        provider._stamp = _stamp(provider._path)
        return provider

    @classmethod
    def open(cls, path: Path) -> LocalKeyFileProvider:
        """The provider of an existing key file (refused if group or others may read it)."""
        path = Path(path)
        key_id, current, keys = _parse(_read_private(path), path)
        return cls(path, key_id, current, keys)

    def _dump(self) -> bytes:
        doc: dict[str, Any] = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "key_id": self._key_id,
            "current": self._current,
            "keys": {
                str(v): base64.b64encode(k).decode("ascii") for v, k in sorted(self._keys.items())
            },
        }
        return json.dumps(doc, indent=2).encode() + b"\n"

    def current(self) -> KeyRef:
        self._refresh()
        return KeyRef(self._key_id, self._current)

    def wrap(self, data_key: bytes, *, context: bytes) -> WrappedKey:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not isinstance(data_key, bytes) or len(data_key) != DATA_KEY_SIZE:
            raise ValueError(f"a data key is {DATA_KEY_SIZE} bytes")
        version = self.current().version
        nonce = os.urandom(_NONCE)
        aad = wrap_aad(self._key_id, version, context)
        sealed = AESGCM(self._keys[version]).encrypt(nonce, data_key, aad)
        return WrappedKey(self._key_id, version, nonce + sealed)

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if wrapped.key_id == self._key_id and wrapped.version not in self._keys:
            self._refresh()  # rotated by another process?
        key = self._keys.get(wrapped.version) if wrapped.key_id == self._key_id else None
        if key is None:
            raise IntegrityError(
                f"key {wrapped.key_id} version {wrapped.version} is not held by the "
                f"key file {self._path} (key {self._key_id}, versions {sorted(self._keys)})"
            )
        nonce, sealed = wrapped.ciphertext[:_NONCE], wrapped.ciphertext[_NONCE:]
        aad = wrap_aad(wrapped.key_id, wrapped.version, context)
        try:
            data_key = AESGCM(key).decrypt(nonce, sealed, aad)
        except (InvalidTag, ValueError):
            raise IntegrityError(
                "the wrapped data key failed authentication: altered, or wrapped for "
                "another context"
            ) from None
        if len(data_key) != DATA_KEY_SIZE:
            raise IntegrityError("the wrapped data key has the wrong length")
        return data_key

    def rotate(self) -> KeyRef:
        with _locked(self._path):
            self._refresh()
            version = max(self._keys) + 1
            keys = {**self._keys, version: os.urandom(DATA_KEY_SIZE)}
            rotated = LocalKeyFileProvider(self._path, self._key_id, version, keys)
            _write_atomic(self._path, rotated._dump(), replace=True)
            self._keys, self._current = keys, version
            self._stamp = _stamp(self._path)
        return KeyRef(self._key_id, version)
