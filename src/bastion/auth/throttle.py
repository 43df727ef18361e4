"""Login throttling: exponential backoff, then a temporary lockout, per account and per source.

After ``free_failures`` failures in a row, each further failure makes the key wait
``backoff_base * 2**(n - free_failures - 1)`` seconds (capped at ``backoff_max``) before
the next attempt is even checked; at ``lockout_failures`` the key is locked for
``lockout_seconds``, until an admin unlocks it. Failures older than ``window_seconds``
are forgotten. Keys are counted whether or not the account exists, so throttling tells
nothing about which names are real.

State lives behind :class:`ThrottleStore`: :class:`MemoryThrottleStore` for one process,
:class:`~bastion.auth.throttle_redis.RedisThrottleStore` for several servers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bastion.auth.errors import Throttled
from bastion.config import AuthSettings


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    free_failures: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 300.0
    lockout_failures: int = 10
    lockout_seconds: float = 900.0
    window_seconds: float = 3600.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure in a row."""
        if failures >= self.lockout_failures:
            return self.lockout_seconds
        if failures <= self.free_failures:
            return 0.0
        exponent = min(failures - self.free_failures - 1, 30)
        return float(min(self.backoff_base * 2**exponent, self.backoff_max))


@dataclass(frozen=True, slots=True)
class ThrottleState:
    failures: int = 0
    blocked_until: float = 0.0
    last_failure: float = 0.0

    def advance(self, policy: ThrottlePolicy, now: float) -> ThrottleState:
        """The state after one more failure at ``now`` (the Redis script does the same)."""
        failures = self.failures if now - self.last_failure <= policy.window_seconds else 0
        failures += 1
        return ThrottleState(failures, now + policy.delay(failures), now)


class ThrottleStore(Protocol):
    def get(self, key: str) -> ThrottleState: ...

    def record_failure(self, key: str, policy: ThrottlePolicy, now: float) -> ThrottleState:
        """Count one failure atomically and return the new state."""

    def clear(self, key: str) -> None: ...


class MemoryThrottleStore:
    """One process's throttle state. Keys whose failures have aged out are dropped once
    ``max_keys`` is reached, so guessed names cannot grow it without bound."""

    def __init__(self, *, max_keys: int = 100_000) -> None:
        self._states: dict[str, ThrottleState] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def get(self, key: str) -> ThrottleState:
        with self._lock:
            return self._states.get(key, ThrottleState())

    def record_failure(self, key: str, policy: ThrottlePolicy, now: float) -> ThrottleState:
        with self._lock:
            if len(self._states) >= self._max_keys and key not in self._states:
                self._evict(policy, now)
            state = self._states.get(key, ThrottleState()).advance(policy, now)
            self._states[key] = state
            return state

    def clear(self, key: str) -> None:
        with self._lock:
            self._states.pop(key, None)

    def _evict(self, policy: ThrottlePolicy, now: float) -> None:
        horizon = max(policy.window_seconds, policy.lockout_seconds)
        stale = [k for k, st in self._states.items()
                 if now - st.last_failure > horizon and st.blocked_until <= now]  # fmt: skip
        for k in stale:
            del self._states[k]
        if len(self._states) >= self._max_keys:  # all recent: drop the oldest half
            oldest = sorted(self._states, key=lambda k: self._states[k].last_failure)
            for k in oldest[: len(oldest) // 2]:
                del self._states[k]


class LoginThrottle:
    """Per-account and per-source throttling in front of password checks."""

    def __init__(
        self,
        store: ThrottleStore,
        *,
        account: ThrottlePolicy,
        source: ThrottlePolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.account_policy = account
        self.source_policy = source
        self._clock = clock

    @classmethod
    def from_settings(
        cls,
        store: ThrottleStore,
        settings: AuthSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> LoginThrottle:
        account = ThrottlePolicy(
            free_failures=settings.free_failures,
            backoff_base=settings.backoff_base_seconds,
            backoff_max=settings.backoff_max_seconds,
            lockout_failures=settings.lockout_failures,
            lockout_seconds=settings.lockout_seconds,
            window_seconds=settings.failure_window_seconds,
        )
        source = ThrottlePolicy(
            free_failures=settings.free_failures * 3,
            backoff_base=settings.backoff_base_seconds,
            backoff_max=settings.backoff_max_seconds,
            lockout_failures=settings.source_lockout_failures,
            lockout_seconds=settings.lockout_seconds,
            window_seconds=settings.failure_window_seconds,
        )
        return cls(store, account=account, source=source, clock=clock)

    @staticmethod
    def account_key(name: str) -> str:
        return f"account:{name.strip().lower()}"

    @staticmethod
    def source_key(source: str) -> str:
        return f"source:{source}"

    def _keys(self, name: str, source: str | None) -> list[tuple[str, ThrottlePolicy]]:
        keys = [(self.account_key(name), self.account_policy)]
        if source:
            keys.append((self.source_key(source), self.source_policy))
        return keys

    def check(self, name: str, source: str | None) -> None:
        """Return None, or raise :class:`Throttled` when either key must still wait."""
        now = self._clock()
        for key, policy in self._keys(name, source):
            state = self.store.get(key)
            if state.blocked_until > now:
                locked = state.failures >= policy.lockout_failures
                raise Throttled(state.blocked_until - now, locked=locked)

    def failure(self, name: str, source: str | None) -> bool:
        """Count a failure for both keys; True when the account just became locked."""
        now = self._clock()
        locked = False
        for key, policy in self._keys(name, source):
            state = self.store.record_failure(key, policy, now)
            if key.startswith("account:") and state.failures == policy.lockout_failures:
                locked = True
        return locked

    def success(self, name: str) -> None:
        """A full login clears the account's failures (never the source's)."""
        self.store.clear(self.account_key(name))

    def unlock(self, name: str) -> None:
        self.store.clear(self.account_key(name))

    def is_locked(self, name: str) -> bool:
        state = self.store.get(self.account_key(name))
        return (
            state.failures >= self.account_policy.lockout_failures
            and state.blocked_until > self._clock()
        )
