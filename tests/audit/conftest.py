from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bastion.audit import AuditEvent, Outcome
from bastion.audit.checkpoint import NoteSigner
from bastion.db import make_engine, migrate

ORIGIN = "audit.example.test/log"
T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    migrate(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def signer(tmp_path: Path) -> NoteSigner:
    return NoteSigner.load_or_create(tmp_path / "keys" / "audit.key", ORIGIN)


def make_events(n: int, start: int = 0) -> list[AuditEvent]:
    actions = ["auth.login", "model.upload", "model.download", "guard.block"]
    return [
        AuditEvent(
            action=actions[i % 4],
            actor=f"user:u{i % 7}",
            outcome=Outcome.FAILURE if i % 5 == 0 else Outcome.SUCCESS,
            resource=f"models/m{i % 3}",
            source="10.0.0.1",
            details={"n": i, "ratio": i / 3, "flag": i % 2 == 0, "note": "é"},
            time=T0 + timedelta(seconds=i),
        )
        for i in range(start, start + n)
    ]
