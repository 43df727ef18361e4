"""Key-encryption keys on a PKCS#11 token (a hardware security module, or SoftHSM2 in tests).

Each version is an AES-256 secret-key object on the token, labelled ``{key_id}:v{version}``,
generated there with ``CKA_SENSITIVE`` true and ``CKA_EXTRACTABLE`` false: the key never
leaves the token, and Bastion only asks it to encrypt or decrypt a data key. Wrapping is
``CKM_AES_GCM`` with a random 96-bit nonce and :func:`~bastion.crypto.kek.base.wrap_aad` as
associated data, so a wrapped key is bound to its KEK version and its caller's context (AES
key wrap, ``CKM_AES_KEY_WRAP_PAD``, cannot bind either). Version 1 is generated on the token
the first time a provider finds no version of its key there.

``python-pkcs11`` (the ``pkcs11`` extra) is imported when a provider is made.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bastion.crypto.kek.base import (
    DATA_KEY_SIZE,
    KeyProviderError,
    KeyRef,
    WrappedKey,
    _check_key_id,
    wrap_aad,
)
from bastion.errors import IntegrityError

if TYPE_CHECKING:
    from pkcs11 import Session
    from pkcs11.types import DecryptMixin, EncryptMixin

    class _AesKey(EncryptMixin, DecryptMixin):
        """What python-pkcs11 makes of an AES key object (its classes are built at run time)."""


__all__ = ["Pkcs11Provider"]

_NONCE = 12


@dataclass
class _Login:
    """One logged-in session per token and process: PKCS#11 keeps login state per
    application, so a second ``C_Login`` fails and one ``C_Logout`` ends every session."""

    session: Session
    pin_digest: bytes
    lock: threading.RLock = field(default_factory=threading.RLock)
    users: int = 0


_LOGINS: dict[tuple[str, str], _Login] = {}
_LOGINS_LOCK = threading.Lock()


def _login(module: str, token_label: str, pin: str) -> _Login:
    try:
        import pkcs11
        from pkcs11.exceptions import PKCS11Error
    except ImportError:
        raise KeyProviderError(
            "the PKCS#11 key provider needs python-pkcs11",
            hint="Install it with: pip install 'bastion-ml[pkcs11]'",
        ) from None
    digest = hashlib.sha256(pin.encode()).digest()
    with _LOGINS_LOCK:
        login = _LOGINS.get((module, token_label))
        if login is None:
            try:
                token = pkcs11.lib(module).get_token(token_label=token_label)
                login = _Login(token.open(rw=True, user_pin=pin), digest)
            except (PKCS11Error, RuntimeError, OSError) as exc:
                # Never echo the PIN; the exception's class names what went wrong.
                raise KeyProviderError(
                    f"cannot open PKCS#11 token {token_label!r} with module {module}: "
                    f"{type(exc).__name__} {exc}".rstrip()
                ) from None
            _LOGINS[module, token_label] = login
        elif not hmac.compare_digest(login.pin_digest, digest):
            raise KeyProviderError(f"wrong PIN for PKCS#11 token {token_label!r}")
        login.users += 1
        return login


class Pkcs11Provider:
    """:class:`~bastion.crypto.kek.base.KeyProvider` whose keys live on a PKCS#11 token."""

    name: str = "pkcs11"

    def __init__(
        self, *, module: str, token_label: str, pin: str, key_id: str = "bastion-kek"
    ) -> None:
        _check_key_id(key_id)
        self._login = _login(module, token_label, pin)
        self._where = (module, token_label)
        self._session = self._login.session
        self._lock = self._login.lock
        self._key_id = key_id
        self._label = re.compile(re.escape(key_id) + r":v([1-9][0-9]{0,9})")
        self._closed = False

    def close(self) -> None:
        """Let go of the token; the last provider of a token logs out."""
        with _LOGINS_LOCK:
            if self._closed:
                return
            self._closed = True
            self._login.users -= 1
            if self._login.users == 0:
                del _LOGINS[self._where]
                self._session.close()

    def _versions(self) -> dict[int, _AesKey]:
        from pkcs11 import Attribute, KeyType, ObjectClass
        from pkcs11.types import DecryptMixin, EncryptMixin

        found: dict[int, _AesKey] = {}
        query = {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES}
        for obj in self._session.get_objects(query):
            match = self._label.fullmatch(str(obj[Attribute.LABEL]))
            if match and isinstance(obj, EncryptMixin) and isinstance(obj, DecryptMixin):
                version = int(match.group(1))
                if version in found:
                    raise KeyProviderError(f"two keys on the token are labelled {match[0]!r}")
                found[version] = obj  # type: ignore[assignment]
        return found

    def _generate(self, version: int) -> KeyRef:
        from pkcs11 import Attribute, KeyType, MechanismFlag

        self._session.generate_key(
            KeyType.AES,
            256,
            label=f"{self._key_id}:v{version}",
            store=True,
            capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            template={
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.WRAP: False,
                Attribute.UNWRAP: False,
                Attribute.MODIFIABLE: False,
            },
        )
        return KeyRef(self._key_id, version)

    def current(self) -> KeyRef:
        with self._lock:
            versions = self._versions()
            if not versions:
                return self._generate(1)
            return KeyRef(self._key_id, max(versions))

    def wrap(self, data_key: bytes, *, context: bytes) -> WrappedKey:
        from pkcs11 import GCMParams, Mechanism

        if not isinstance(data_key, bytes) or len(data_key) != DATA_KEY_SIZE:
            raise ValueError(f"a data key is {DATA_KEY_SIZE} bytes")
        with self._lock:
            version = self.current().version
            key = self._versions()[version]
            nonce = os.urandom(_NONCE)
            params = GCMParams(nonce, wrap_aad(self._key_id, version, context))
            sealed = key.encrypt(data_key, mechanism=Mechanism.AES_GCM, mechanism_param=params)
        assert isinstance(sealed, bytes)
        return WrappedKey(self._key_id, version, nonce + sealed)

    def unwrap(self, wrapped: WrappedKey, *, context: bytes) -> bytes:
        from pkcs11 import GCMParams, Mechanism
        from pkcs11.exceptions import PKCS11Error

        with self._lock:
            key = self._versions().get(wrapped.version)
            if wrapped.key_id != self._key_id or key is None:
                raise IntegrityError(
                    f"key {wrapped.key_id} version {wrapped.version} is not on the token"
                )
            nonce, sealed = wrapped.ciphertext[:_NONCE], wrapped.ciphertext[_NONCE:]
            if len(nonce) != _NONCE or len(sealed) != DATA_KEY_SIZE + 16:
                raise IntegrityError("the wrapped data key has the wrong length")
            params = GCMParams(nonce, wrap_aad(wrapped.key_id, wrapped.version, context))
            try:
                data_key = key.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=params)
            except PKCS11Error:
                raise IntegrityError(
                    "the wrapped data key failed authentication on the token: altered, or "
                    "wrapped for another context"
                ) from None
        if not isinstance(data_key, bytes) or len(data_key) != DATA_KEY_SIZE:
            raise IntegrityError("the wrapped data key has the wrong length")
        return data_key

    def rotate(self) -> KeyRef:
        with self._lock:
            versions = self._versions()
            return self._generate(max(versions, default=0) + 1)
