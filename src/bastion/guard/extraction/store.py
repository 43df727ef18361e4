"""Where per-client states live: in this process (default) or in Redis (shared, durable).

A store applies one update to one client's state and the population atomically. The memory
store keeps at most ``max_clients`` states (least recently seen forgotten first). The Redis
store keeps each state as one value (23 KB) that expires ``ttl`` seconds after the
client's last query, and updates it under ``WATCH``: two replicas that update one client at
once retry (with a random back-off) rather than lose a query. The population (one mean
vector) is written last-writer-wins; it moves slowly. A store that cannot reach Redis raises
:class:`ExtractionStoreError` and the proxy refuses the request: it fails closed.
"""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from bastion.errors import BastionError
from bastion.guard.extraction.signals import Population
from bastion.guard.extraction.state import ClientState

T = TypeVar("T")
Update = Callable[[ClientState, Population], T]


class ExtractionStoreError(BastionError):
    """The extraction detector's state store is unreachable."""

    hint = "Check that Redis is running and reachable at the configured URL."


class StateStore(Protocol):
    async def update(self, client: str, fn: Update[T]) -> T: ...

    async def reset(self, client: str) -> None: ...


class MemoryStore:
    """States in this process; lost on restart. Fine for one proxy."""

    def __init__(self, *, max_clients: int = 10_000) -> None:
        self.max_clients = max_clients
        self.population = Population.empty()
        self._states: OrderedDict[str, ClientState] = OrderedDict()
        self._lock = asyncio.Lock()

    async def update(self, client: str, fn: Update[T]) -> T:
        async with self._lock:
            state = self._states.pop(client, None) or ClientState()
            self._states[client] = state
            while len(self._states) > self.max_clients:
                self._states.popitem(last=False)
            return fn(state, self.population)

    async def reset(self, client: str) -> None:
        async with self._lock:
            self._states.pop(client, None)


class RedisStore:
    """States in Redis under ``prefix``, shared by every proxy that uses the same prefix."""

    def __init__(
        self, url: str, *, prefix: str = "bastion:guard:x:", ttl: int = 30 * 86400
    ) -> None:
        import redis.asyncio as aioredis

        self._redis: Any = aioredis.from_url(url)
        self.prefix, self.ttl = prefix, ttl

    async def update(self, client: str, fn: Update[T]) -> T:
        from redis.exceptions import RedisError, WatchError

        key, pop_key = self.prefix + "c:" + client, self.prefix + "population"
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for attempt in range(50):
                    try:
                        await pipe.watch(key)
                        blob, pop_blob = await pipe.mget(key, pop_key)
                        state = ClientState.from_bytes(blob)
                        population = Population.from_bytes(pop_blob)
                        result = fn(state, population)
                        pipe.multi()
                        pipe.set(key, state.to_bytes(), ex=self.ttl)
                        pipe.set(pop_key, population.to_bytes(), ex=self.ttl)
                        await pipe.execute()
                        return result
                    except WatchError:  # another replica updated it first: back off, retry
                        await asyncio.sleep(random.uniform(0, 0.001 * (attempt + 1)))  # noqa: S311
        except (RedisError, OSError) as exc:
            raise ExtractionStoreError(f"the extraction state store failed: {exc}") from exc
        raise ExtractionStoreError("the extraction state is too contended to update")

    async def reset(self, client: str) -> None:
        try:
            await self._redis.delete(self.prefix + "c:" + client)
        except Exception as exc:
            raise ExtractionStoreError(f"the extraction state store failed: {exc}") from exc

    async def close(self) -> None:
        await self._redis.aclose()
