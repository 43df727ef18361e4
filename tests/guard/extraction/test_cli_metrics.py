"""The operator's reset command and the Prometheus counter of extraction actions."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path

from click.testing import CliRunner

from bastion.audit import AuditEvent, Outcome
from bastion.audit.query import Filter, search
from bastion.cli.guard import guard
from bastion.db import make_engine
from bastion.guard.extraction import (
    ClientState,
    ExtractionDetector,
    ExtractionSettings,
    Level,
    Population,
    RedisStore,
)
from bastion.monitoring.metrics import Metrics, MetricsSink

from . import _traffic as traffic

URL = "redis://127.0.0.1:6379/0"


def _queries(state: ClientState, pop: Population) -> int:
    return state.queries


def test_reset_client_lifts_a_block_and_is_audited(tmp_path: Path) -> None:
    key_id = f"k-{uuid.uuid4().hex}"
    settings = ExtractionSettings(min_queries=8, full_queries=16, per_source=False)

    async def block() -> Level:
        det = ExtractionDetector(settings, store=RedisStore(URL))
        level = Level.NONE
        for i, t in enumerate(traffic.perturbed(random.Random(3), 40)):
            level = (await det.check(key_id=key_id, source=None, text=t, now=float(i))).level
        await det.close()
        return level

    assert asyncio.run(block()) is Level.BLOCK
    db = tmp_path / "audit.db"
    args = ["reset-client", key_id, "--redis-url", URL, "--audit-db", f"sqlite:///{db}",
            "--audit-key", str(tmp_path / "audit.key")]  # fmt: skip
    result = CliRunner().invoke(guard, args)
    assert result.exit_code == 0, result.output

    async def left() -> int:
        store = RedisStore(URL)
        try:
            return await store.update(f"key:{key_id}", _queries)
        finally:
            await store.reset(f"key:{key_id}")
            await store.close()

    assert asyncio.run(left()) == 0, "the state starts afresh"
    engine = make_engine(f"sqlite:///{db}")
    events = [e for _, e in search(engine, Filter(action="guard.extraction.reset"))]
    engine.dispose()
    assert [e.resource for e in events] == [f"key:{key_id}"]


def test_extraction_actions_are_counted() -> None:
    metrics = Metrics()
    sink = MetricsSink(metrics)
    for action in ("alert", "throttle", "block", "block"):
        outcome = Outcome.DENIED if action == "block" else Outcome.SUCCESS
        sink.emit(AuditEvent(action=f"guard.extraction.{action}", actor="key:k", outcome=outcome))
    counted = metrics.registry.get_sample_value
    assert counted("bastion_guard_extraction_actions_total", {"action": "block"}) == 2
    assert counted("bastion_guard_extraction_actions_total", {"action": "alert"}) == 1
