"""Fixtures for the identity tests: a migrated database (SQLite and PostgreSQL), a real
Argon2id hasher with cheap parameters wrapped to count calls, a clock the test moves."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from bastion.audit import MemoryAuditSink
from bastion.auth.passwords import Argon2Hasher
from bastion.auth.secretbox import SecretBox
from bastion.auth.service import IdentityService, Operator
from bastion.auth.throttle import LoginThrottle, MemoryThrottleStore
from bastion.config import AuthSettings
from bastion.db import make_engine, migrate

CHEAP = {"argon2_time_cost": 1, "argon2_memory_kib": 64, "argon2_parallelism": 1}
PASSWORD = "violet-anchor-ferris-71"  # noqa: S105
BOX = SecretBox.generate()


class Clock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingHasher:
    """The real Argon2id hasher, counting each call by method name."""

    def __init__(self, inner: Argon2Hasher) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()

    def hash(self, password: str) -> str:
        self.calls["hash"] += 1
        return self.inner.hash(password)

    def verify(self, encoded: str, password: str) -> None:
        self.calls["verify"] += 1
        self.inner.verify(encoded, password)

    def needs_rehash(self, encoded: str) -> bool:
        self.calls["needs_rehash"] += 1
        return self.inner.needs_rehash(encoded)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def settings() -> AuthSettings:
    return AuthSettings(**CHEAP)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def audit() -> MemoryAuditSink:
    return MemoryAuditSink()


@pytest.fixture
def hasher(settings: AuthSettings) -> CountingHasher:
    return CountingHasher(Argon2Hasher.from_settings(settings))


def make_service(
    engine: Engine,
    settings: AuthSettings,
    audit: MemoryAuditSink,
    hasher: CountingHasher,
    clock: Clock,
) -> IdentityService:
    throttle = LoginThrottle.from_settings(MemoryThrottleStore(), settings, clock=clock)
    return IdentityService(
        engine, settings=settings, audit=audit, hasher=hasher, throttle=throttle, clock=clock,
        secret_box=BOX,
    )  # fmt: skip


@pytest.fixture
def service(
    engine: Engine,
    settings: AuthSettings,
    audit: MemoryAuditSink,
    hasher: CountingHasher,
    clock: Clock,
) -> IdentityService:
    return make_service(engine, settings, audit, hasher, clock)


OPERATOR = Operator("root")
