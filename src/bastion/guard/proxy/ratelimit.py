"""Per-key rate limits on requests and tokens per minute: in memory, or in Redis.

Both limiters count in fixed one-minute windows. The Redis limiter shares counts
between proxy replicas (``INCRBY`` + ``EXPIRE`` in one transaction, under a
configurable key prefix). A limiter that cannot reach its store denies: the proxy
fails closed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Limits:
    requests_per_minute: int
    tokens_per_minute: int


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    reason: str = ""
    retry_after: int = 0


class RateLimiter(Protocol):
    async def hit(self, key_id: str, tokens: int, limits: Limits) -> RateDecision: ...


def _window(now: float) -> tuple[int, int]:
    minute = int(now // 60)
    return minute, 60 - int(now % 60)


class MemoryRateLimiter:
    """Counts in this process. The default; fine for one proxy process."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, int], list[int]] = {}
        self._lock = asyncio.Lock()

    async def hit(self, key_id: str, tokens: int, limits: Limits) -> RateDecision:
        minute, retry = _window(time.time())
        async with self._lock:
            for k in [k for k in self._counts if k[1] < minute]:
                del self._counts[k]
            counts = self._counts.setdefault((key_id, minute), [0, 0])
            if counts[0] + 1 > limits.requests_per_minute:
                return RateDecision(False, "rate_limit_requests", retry)
            if counts[1] + tokens > limits.tokens_per_minute:
                return RateDecision(False, "rate_limit_tokens", retry)
            counts[0] += 1
            counts[1] += tokens
        return RateDecision(True)


class RedisRateLimiter:
    """Counts in Redis, shared by every proxy that uses the same ``prefix``."""

    def __init__(self, url: str, *, prefix: str = "bastion:guard:rl:") -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.from_url(url)
        self.prefix = prefix

    async def hit(self, key_id: str, tokens: int, limits: Limits) -> RateDecision:
        minute, retry = _window(time.time())
        base = f"{self.prefix}{key_id}:{minute}"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incrby(base + ":req", 1)
                pipe.incrby(base + ":tok", tokens)
                pipe.expire(base + ":req", 120)
                pipe.expire(base + ":tok", 120)
                reqs, toks, _, _ = await pipe.execute()
        except Exception:  # no store, no service: fail closed
            return RateDecision(False, "rate_limit_unavailable", 5)
        if int(reqs) > limits.requests_per_minute:
            return RateDecision(False, "rate_limit_requests", retry)
        if int(toks) > limits.tokens_per_minute:
            return RateDecision(False, "rate_limit_tokens", retry)
        return RateDecision(True)

    async def close(self) -> None:
        await self._redis.aclose()
