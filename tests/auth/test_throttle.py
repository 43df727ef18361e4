"""Backoff and lockout, on the in-memory store and on a real Redis server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from bastion.auth.errors import Throttled
from bastion.auth.throttle import LoginThrottle, MemoryThrottleStore, ThrottlePolicy, ThrottleStore
from bastion.auth.throttle_redis import RedisThrottleStore
from tests.auth.conftest import Clock

REDIS_URL = os.environ.get("BASTION_TEST_REDIS", "redis://127.0.0.1:6379/0")
POLICY = ThrottlePolicy(
    free_failures=3, backoff_base=1.0, backoff_max=8.0, lockout_failures=8,
    lockout_seconds=900.0, window_seconds=3600.0,
)  # fmt: skip


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[ThrottleStore]:
    if request.param == "memory":
        yield MemoryThrottleStore()
        return
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        client.close()
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    prefix = f"bastion-test:{uuid.uuid4().hex}:"
    try:
        yield RedisThrottleStore(client, prefix=prefix)
    finally:
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()


def test_policy_backs_off_exponentially_then_locks() -> None:
    delays = [POLICY.delay(n) for n in range(1, 10)]
    assert delays == [0, 0, 0, 1, 2, 4, 8, 900, 900]


def test_store_counts_failures_and_computes_the_wait(store: ThrottleStore) -> None:
    now = 1000.0
    states = [store.record_failure("account:a", POLICY, now) for _ in range(5)]
    assert [s.failures for s in states] == [1, 2, 3, 4, 5]
    assert [s.blocked_until - now for s in states] == [0, 0, 0, 1, 2]
    assert store.get("account:a") == states[-1]
    assert store.get("account:b").failures == 0
    store.clear("account:a")
    assert store.get("account:a").failures == 0


def test_failures_outside_the_window_are_forgotten(store: ThrottleStore) -> None:
    for _ in range(5):
        store.record_failure("k", POLICY, 1000.0)
    assert store.record_failure("k", POLICY, 1000.0 + 3601).failures == 1


def test_concurrent_failures_are_all_counted(store: ThrottleStore) -> None:
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: store.record_failure("k", POLICY, 5.0), range(64)))
    assert store.get("k").failures == 64


def test_login_throttle_waits_then_locks_and_unlocks(store: ThrottleStore) -> None:
    clock = Clock(1000.0)
    throttle = LoginThrottle(store, account=POLICY, source=POLICY, clock=clock)
    for _ in range(3):
        throttle.check("alice", None)
        assert throttle.failure("alice", None) is False
    throttle.check("alice", None)
    throttle.failure("alice", None)  # the 4th failure: wait 1 s
    with pytest.raises(Throttled) as info:
        throttle.check("alice", None)
    assert info.value.retry_after == pytest.approx(1.0)
    assert not info.value.locked
    clock.advance(1.01)
    throttle.check("alice", None)
    locked = [throttle.failure("ALICE", None) for _ in range(4)]  # names are case-folded
    assert locked == [False, False, False, True]
    assert throttle.is_locked("alice")
    with pytest.raises(Throttled, match="locked") as info:
        throttle.check("alice", None)
    assert info.value.locked
    throttle.unlock("alice")
    assert not throttle.is_locked("alice")
    throttle.check("alice", None)


def test_source_is_throttled_across_accounts(store: ThrottleStore) -> None:
    clock = Clock(1000.0)
    strict = ThrottlePolicy(free_failures=2, lockout_failures=100)
    throttle = LoginThrottle(store, account=POLICY, source=strict, clock=clock)
    for name in ["a", "b", "c"]:  # one failure per account, all from one address
        throttle.failure(name, "203.0.113.9")
    with pytest.raises(Throttled):
        throttle.check("d", "203.0.113.9")
    throttle.check("d", "198.51.100.1")  # another address is not affected
    throttle.success("d")  # a success clears the account, never the source
    with pytest.raises(Throttled):
        throttle.check("d", "203.0.113.9")


def test_memory_store_stays_bounded() -> None:
    store = MemoryThrottleStore(max_keys=100)
    for i in range(100):
        store.record_failure(f"account:old{i}", POLICY, 0.0)
    store.record_failure("account:new", POLICY, 10_000.0)  # the old ones have aged out
    assert store.get("account:old0").failures == 0
    assert store.get("account:new").failures == 1
    for i in range(500):
        store.record_failure(f"account:n{i}", POLICY, 10_000.0 + i)
    assert len(store._states) <= 100
    assert store.get("account:n499").failures == 1  # the newest are kept
