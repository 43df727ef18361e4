"""Key-encryption keys: the :class:`KeyProvider` Protocol and its providers, in order of
preference for a single server (a local key file) and for hardware (PKCS#11)."""

from bastion.crypto.kek.base import KeyProvider, KeyProviderError, KeyRef, WrappedKey, rewrap
from bastion.crypto.kek.local import LocalKeyFileProvider
from bastion.crypto.kek.pkcs11 import Pkcs11Provider

#: The built-in providers, by name; a KMS provider would join them on the same Protocol.
PROVIDERS: dict[str, type[KeyProvider]] = {
    LocalKeyFileProvider.name: LocalKeyFileProvider,
    Pkcs11Provider.name: Pkcs11Provider,
}

__all__ = [
    "PROVIDERS",
    "KeyProvider",
    "KeyProviderError",
    "KeyRef",
    "LocalKeyFileProvider",
    "Pkcs11Provider",
    "WrappedKey",
    "rewrap",
]
