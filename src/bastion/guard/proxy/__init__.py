"""The guard as an OpenAI-compatible proxy (layer 3: the only guard code that speaks HTTP)."""

from __future__ import annotations

from bastion.guard.proxy.app import ProxyConfig, create_app
from bastion.guard.proxy.keys import ApiKey, KeyStore, generate_key
from bastion.guard.proxy.ratelimit import MemoryRateLimiter, RedisRateLimiter

__all__ = [
    "ApiKey",
    "KeyStore",
    "MemoryRateLimiter",
    "ProxyConfig",
    "RedisRateLimiter",
    "create_app",
    "generate_key",
]
