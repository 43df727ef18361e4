"""Detector state in Redis: shared by replicas, surviving restarts, failing closed."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest

from bastion.guard.extraction import (
    ClientState,
    ExtractionDetector,
    ExtractionSettings,
    ExtractionStoreError,
    Level,
    MemoryStore,
    Population,
    RedisStore,
)

from . import _traffic as traffic

URL = "redis://127.0.0.1:6379/0"
FAST = ExtractionSettings(min_queries=8, full_queries=16, per_source=False)


def _count(state: ClientState, pop: Population) -> int:
    return state.queries


def test_two_replicas_share_state_and_a_new_one_resumes_it() -> None:
    prefix = f"test:x:{uuid.uuid4().hex}:"
    texts = traffic.perturbed(random.Random(1), 40)

    async def go() -> tuple[list[Level], int, Level]:
        a = ExtractionDetector(FAST, store=RedisStore(URL, prefix=prefix, ttl=600))
        b = ExtractionDetector(FAST, store=RedisStore(URL, prefix=prefix, ttl=600))
        out = []
        for i, t in enumerate(texts):
            det = a if i % 2 else b
            out.append((await det.check(key_id="k", source=None, text=t, now=float(i))).level)
        await a.close()
        await b.close()
        fresh = RedisStore(URL, prefix=prefix, ttl=600)
        seen = await fresh.update("key:k", _count)
        again = await ExtractionDetector(FAST, store=fresh).check(
            key_id="k", source=None, text="What does json.dumps do?", now=50.0
        )
        await fresh.close()
        return out, seen, again.level

    levels, seen, again = asyncio.run(go())
    assert levels[-1] is Level.BLOCK
    assert seen == len(texts), "every query of both replicas counted"
    assert again is Level.BLOCK, "the block survives a restart"


def test_concurrent_updates_of_one_client_are_not_lost() -> None:
    prefix = f"test:x:{uuid.uuid4().hex}:"

    def bump(state: ClientState, pop: Population) -> None:
        state.queries += 1

    async def go() -> int:
        stores = [RedisStore(URL, prefix=prefix, ttl=600) for _ in range(4)]
        try:
            await asyncio.gather(*(s.update("c", bump) for s in stores for _ in range(10)))
            return await stores[0].update("c", _count)
        finally:
            for s in stores:
                await s.close()

    assert asyncio.run(go()) == 40


def test_an_unreachable_redis_fails_closed() -> None:
    async def go() -> None:
        store = RedisStore("redis://127.0.0.1:1/0")
        try:
            await store.update("c", _count)
        finally:
            await store.close()

    with pytest.raises(ExtractionStoreError):
        asyncio.run(go())


def test_the_memory_store_is_bounded() -> None:
    async def go() -> int:
        store = MemoryStore(max_clients=5)
        for i in range(20):
            await store.update(f"c{i}", _count)
        return await store.update("c0", _count)

    assert asyncio.run(go()) == 0, "the oldest clients were forgotten"
