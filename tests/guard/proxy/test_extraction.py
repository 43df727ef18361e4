"""End to end: an extraction pattern through the proxy, with the official client, state in
Redis and the alerts in the tamper-evident audit log; a benign client alongside."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from bastion.audit.checkpoint import NoteSigner
from bastion.audit.log import AuditLog
from bastion.audit.query import Filter, search
from bastion.audit.verify import verify_log
from bastion.db import make_engine, migrate
from bastion.guard.extraction import ExtractionDetector, ExtractionSettings, RedisStore
from bastion.guard.proxy import generate_key
from bastion.guard.proxy.keys import ApiKey
from bastion.monitoring.metrics import Metrics, MetricsSink
from bastion.monitoring.sinks import FanOutSink
from tests.guard.extraction import _traffic as traffic

from .conftest import ProxyFactory

SETTINGS = ExtractionSettings(
    min_queries=6,
    full_queries=14,
    throttle_delay=0.01,
    reauth=1.0,  # this test goes from throttling straight to the block
    per_source=False,  # both clients share 127.0.0.1
)


@pytest.fixture
def audit_log(tmp_path: Path) -> Iterator[tuple[AuditLog, NoteSigner]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    migrate(engine)
    signer = NoteSigner.load_or_create(tmp_path / "audit.key", "bastion.local/audit")
    log = AuditLog(engine, signer=signer)
    yield log, signer
    log.close()
    engine.dispose()


def _key(name: str) -> tuple[str, ApiKey]:
    key, digest = generate_key()
    return key, ApiKey(name, digest)


def test_extraction_is_slowed_then_blocked_and_audited(
    make_proxy: ProxyFactory, audit_log: tuple[AuditLog, NoteSigner]
) -> None:
    log, signer = audit_log
    (thief_key, thief), (user_key, user) = _key("thief"), _key("user")
    metrics = Metrics()
    detector = ExtractionDetector(
        SETTINGS,
        store=RedisStore("redis://127.0.0.1:6379/0", prefix=f"test:x:{uuid.uuid4().hex}:", ttl=600),
        audit=FanOutSink([log, MetricsSink(metrics)]),
    )
    proxy = make_proxy(keys=[thief, user], extraction=detector, metrics=metrics)
    rng = random.Random(7)
    attack, benign = traffic.perturbed(rng, 60), traffic.focused(rng, 60, "csv")
    with (
        openai.OpenAI(base_url=proxy.url + "/v1", api_key=thief_key, max_retries=0) as thief_c,
        openai.OpenAI(base_url=proxy.url + "/v1", api_key=user_key, max_retries=0) as user_c,
    ):
        blocked_at = None
        for i, (bad, good) in enumerate(zip(attack, benign, strict=True)):
            out = user_c.chat.completions.create(
                model="fake", messages=[{"role": "user", "content": good}]
            )
            assert out.choices[0].message.content, "the benign client is served throughout"
            try:
                thief_c.chat.completions.create(
                    model="fake", messages=[{"role": "user", "content": bad}]
                )
            except openai.PermissionDeniedError as exc:
                body = exc.body
                assert isinstance(body, dict)
                assert body["code"] == "extraction_blocked"
                assert body["type"] == "guard_extraction"
                blocked_at = i
                break
        assert blocked_at is not None, "the extraction pattern was blocked"
        with pytest.raises(openai.PermissionDeniedError):
            thief_c.chat.completions.create(
                model="fake", messages=[{"role": "user", "content": "What does csv.reader do?"}]
            )
    log.flush()
    events = [e for _, e in search(log.engine, Filter(action="guard.extraction."))]
    thief_steps = [e.action for e in events if e.actor == "key:thief"]
    assert "guard.extraction.throttle" in thief_steps
    assert thief_steps.index("guard.extraction.throttle") < thief_steps.index(
        "guard.extraction.block"
    )
    assert not [e for e in events if e.actor == "key:user"], "no alert about the benign client"
    block = next(e for e in events if e.action == "guard.extraction.block")
    assert block.details["top"].startswith("perturbation=")  # type: ignore[union-attr]
    assert all(w not in str(block) for w in attack[0].split() if len(w) > 6)
    log.checkpoint()
    verify_log(log.engine, signer)
    scraped = httpx.get(proxy.url + "/metrics").text
    assert 'bastion_guard_extraction_actions_total{action="block"} 1.0' in scraped
