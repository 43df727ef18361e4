"""API keys for the proxy, stored as SHA-256 digests and compared in constant time.

Keys are generated with 256 bits of randomness (``bst_`` + 43 URL-safe characters),
so a fast hash is enough at rest: nothing can be brute-forced from the digest, which
is why argon2 is not needed here. The key file is JSON::

    {"keys": [{"id": "team-a", "sha256": "<hex>", "requests_per_minute": 60,
               "tokens_per_minute": 40000}]}

A key without limits uses the proxy's defaults. Unknown or missing keys are denied.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from bastion.errors import ConfigError

PREFIX = "bst_"


def generate_key() -> tuple[str, str]:
    """A new key and its digest. Show the key once; store only the digest."""
    key = PREFIX + secrets.token_urlsafe(32)
    return key, digest(key)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    sha256: str
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


class KeyStore:
    """Looks a presented key up among stored digests without early exits."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = list(keys)

    @classmethod
    def load(cls, path: Path) -> KeyStore:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            keys = [
                ApiKey(
                    id=str(k["id"]),
                    sha256=str(k["sha256"]).lower(),
                    requests_per_minute=k.get("requests_per_minute"),
                    tokens_per_minute=k.get("tokens_per_minute"),
                )
                for k in raw["keys"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"cannot read the proxy key file {path}: {exc}") from exc
        return cls(keys)

    def __len__(self) -> int:
        return len(self._keys)

    def verify(self, presented: str | None) -> ApiKey | None:
        """The key's record, or None. Every stored digest is compared, match or not."""
        if not presented:
            return None
        candidate = digest(presented)
        found: ApiKey | None = None
        for key in self._keys:
            if hmac.compare_digest(candidate, key.sha256):
                found = key
        return found
