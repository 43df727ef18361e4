"""Throttle state in Redis, shared by every server process.

Each key is a hash (failures, blocked_until, last_failure) updated by one Lua script, so
concurrent failures from many servers are counted exactly; keys expire on their own after
the failure window or the lockout, whichever is longer.
"""

from __future__ import annotations

import math
from typing import Any

from bastion.auth.throttle import ThrottlePolicy, ThrottleState

# The same arithmetic as ThrottleState.advance and ThrottlePolicy.delay.
_RECORD = """
local now = tonumber(ARGV[1])
local free, base, maxd = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local lock_n, lock_s, window = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local ttl = tonumber(ARGV[8])
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'last_failure') or '0')
if now - last > window then failures = 0 end
failures = failures + 1
local delay = 0
if failures >= lock_n then
  delay = lock_s
elseif failures > free then
  delay = math.min(base * 2 ^ math.min(failures - free - 1, 30), maxd)
end
local until_ = now + delay
redis.call('HSET', KEYS[1], 'failures', failures, 'blocked_until', tostring(until_),
           'last_failure', tostring(now))
redis.call('EXPIRE', KEYS[1], ttl)
return {failures, tostring(until_)}
"""


class RedisThrottleStore:
    """``client`` is a ``redis.Redis``; keys are ``{prefix}{key}``."""

    def __init__(self, client: Any, *, prefix: str = "bastion:throttle:") -> None:
        self._redis = client
        self._prefix = prefix
        self._record = client.register_script(_RECORD)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "bastion:throttle:") -> RedisThrottleStore:
        import redis

        return cls(redis.Redis.from_url(url), prefix=prefix)

    def get(self, key: str) -> ThrottleState:
        raw = self._redis.hgetall(self._prefix + key)
        if not raw:
            return ThrottleState()
        return ThrottleState(
            failures=int(raw[b"failures"]),
            blocked_until=float(raw[b"blocked_until"]),
            last_failure=float(raw[b"last_failure"]),
        )

    def record_failure(self, key: str, policy: ThrottlePolicy, now: float) -> ThrottleState:
        ttl = math.ceil(max(policy.window_seconds, policy.lockout_seconds, policy.backoff_max)) + 1
        failures, until = self._record(
            keys=[self._prefix + key],
            args=[
                repr(now),
                policy.free_failures,
                repr(policy.backoff_base),
                repr(policy.backoff_max),
                policy.lockout_failures,
                repr(policy.lockout_seconds),
                repr(policy.window_seconds),
                ttl,
            ],
        )
        return ThrottleState(int(failures), float(until), now)

    def clear(self, key: str) -> None:
        self._redis.delete(self._prefix + key)
