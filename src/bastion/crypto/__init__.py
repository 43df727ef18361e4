"""Cryptographic building blocks (layer 1): digests, keys, signatures, certificate chains,
streaming encryption of blobs (:mod:`~bastion.crypto.envelope`) and the key-encryption keys
that wrap their data keys (:mod:`~bastion.crypto.kek`).

Heavy libraries (``cryptography``, ``blake3``) are imported on first use, not here.
"""

from bastion.crypto.digests import (
    ALGORITHMS,
    Algorithm,
    FileChangedError,
    Range,
    digest_bytes,
    digest_range,
    digest_ranges,
    shard_bounds,
)
from bastion.crypto.keys import KEY_TYPES, KeyFileError, KeyType

__all__ = [
    "ALGORITHMS",
    "KEY_TYPES",
    "Algorithm",
    "FileChangedError",
    "KeyFileError",
    "KeyType",
    "Range",
    "digest_bytes",
    "digest_range",
    "digest_ranges",
    "shard_bounds",
]
