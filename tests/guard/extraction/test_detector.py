"""The extraction signals, the combined score and its graded actions, without HTTP."""

from __future__ import annotations

import asyncio
import builtins
import random

import pytest

from bastion.audit import MemoryAuditSink
from bastion.errors import PolicyError
from bastion.guard import policy_from_mapping
from bastion.guard.extraction import (
    Assessment,
    Budgets,
    ClientState,
    Decision,
    ExtractionDetector,
    ExtractionSettings,
    Level,
    MemoryStore,
    Population,
    Scorer,
    extract,
)
from bastion.guard.extraction.state import FLAG_JUMP

from . import _traffic as traffic

FAST = {"min_queries": 8, "full_queries": 24, "population_min": 300}


def scorer(**options: object) -> Scorer:
    return Scorer(ExtractionSettings(**{**FAST, **options}))  # type: ignore[arg-type]


def warmed(seed: int = 1) -> Population:
    """A population of 20 focused users, 30 queries each, on their own topics."""
    rng = random.Random(seed)
    pop, s = Population.empty(), scorer()
    for topic in traffic.MODULES[:20]:
        state = ClientState()
        for i, text in enumerate(traffic.focused(rng, 30, topic)):
            s.assess(state, extract(text), pop, now=float(i))
    return pop


def run(s: Scorer, pop: Population, texts: list[str], **params: object) -> list[Assessment]:
    state = ClientState()
    return [s.assess(state, extract(t, params), pop, now=1000.0 + i) for i, t in enumerate(texts)]


def levels(out: list[Assessment]) -> list[Level]:
    return [a.level for a in out]


def test_a_uniform_crawl_is_alerted_throttled_then_blocked() -> None:
    out = run(scorer(), warmed(), traffic.uniform(random.Random(2), 60))
    seen = [lv for lv in dict.fromkeys(levels(out)) if lv is not Level.NONE]
    assert seen[0] <= Level.THROTTLE
    assert seen[-1] is Level.BLOCK
    assert levels(out) == sorted(levels(out)), "the graded action only rises"
    blocked = next(a for a in out if a.level is Level.BLOCK)
    assert blocked.top()[0][0] == "broadness"


def test_focused_users_stay_clear() -> None:
    pop, s, rng = warmed(), scorer(), random.Random(3)
    for topic in ("json", "socket", "decimal"):
        out = run(s, pop, traffic.focused(rng, 150, topic))
        assert max(levels(out)) is Level.NONE, topic


def test_perturbations_of_seed_prompts_are_caught() -> None:
    out = run(scorer(), warmed(), traffic.perturbed(random.Random(4), 40))
    assert out[-1].level is Level.BLOCK
    assert out[-1].top()[0][0] == "perturbation"


def test_log_probabilities_alone_do_not_alert() -> None:
    out = run(scorer(), warmed(), traffic.focused(random.Random(5), 60), logprobs=True,
              top_logprobs=5)  # fmt: skip
    assert max(levels(out)) is Level.NONE
    assert out[-1].signals["sampling"] == 1.0


def test_numeric_enumeration_is_seen() -> None:
    texts = [f"Write the product description for catalogue item {i}." for i in range(40)]
    out = run(scorer(), warmed(), texts)
    assert out[-1].signals["enumeration"] == 1.0


NAMES = sorted({n.lower() for n in dir(builtins) if not n.startswith("_")})


def test_a_template_walked_in_sorted_order_is_alerted() -> None:
    for names in (NAMES[:60], NAMES[::-1][:60]):  # up the list, or down it
        out = run(scorer(), warmed(), [f"What does the Python builtin {n} do?" for n in names])
        assert out[-1].signals["order"] == 1.0
        assert out[-1].level >= Level.ALERT
        assert out[-1].top()[0][0] == "order"


def test_a_sorted_walk_over_two_alternating_templates_is_alerted() -> None:
    phrasings = ("What does the Python builtin {} do?", "Show me an example that uses {}.")
    texts = [phrasings[i % 2].format(n) for i, n in enumerate(NAMES[:80])]
    out = run(scorer(), warmed(), texts)
    assert out[-1].signals["order"] == 1.0
    assert out[-1].level >= Level.ALERT


def test_the_same_template_in_any_other_order_is_not_an_order_walk() -> None:
    names = NAMES[:60]
    for seed in range(5):
        random.Random(seed).shuffle(names)
        out = run(scorer(), warmed(), [f"What does the Python builtin {n} do?" for n in names])
        assert max(a.signals["order"] for a in out) == 0.0, seed


def test_a_template_filled_with_new_names_in_any_order_is_a_lookup_sweep() -> None:
    names = NAMES[:60]
    for seed in range(5):
        random.Random(seed).shuffle(names)
        out = run(scorer(), warmed(), [f"What does the Python builtin {n} do?" for n in names])
        assert out[-1].signals["lookup"] == 1.0, seed
        assert out[-1].level >= Level.ALERT, seed
        assert out[-1].top()[0][0] == "lookup", seed


def test_a_slot_in_the_middle_of_a_template_is_found_from_both_ends() -> None:
    names = NAMES[:60]
    random.Random(1).shuffle(names)
    texts = [f"Explain {n} to me like I'm new to Python, with one short example." for n in names]
    assert run(scorer(), warmed(), texts)[-1].signals["lookup"] == 1.0


def test_a_batch_job_over_prose_is_not_a_lookup_sweep() -> None:
    sentences = sorted({s for items in traffic.POOL.values() for _, s in items})
    random.Random(2).shuffle(sentences)
    texts = [f"Rewrite this sentence in plain English for a beginner: {s}" for s in sentences[:80]]
    out = run(scorer(), warmed(), texts)
    assert max(a.signals["lookup"] for a in out) == 0.0
    assert max(levels(out)) is Level.NONE


def test_a_bounded_list_asked_over_and_over_is_not_a_lookup_sweep() -> None:
    rng = random.Random(3)
    names = NAMES[:12]
    texts = [f"What does the Python builtin {rng.choice(names)} do?" for _ in range(80)]
    out = run(scorer(), warmed(), texts)
    assert out[-1].signals["lookup"] == 0.0
    assert max(levels(out)) is Level.NONE


def test_one_heavy_client_has_a_bounded_vote_in_the_population() -> None:
    s, pop = scorer(), Population.empty()
    state = ClientState()
    for i, text in enumerate(traffic.focused(random.Random(4), 4000, "json")):
        s.assess(state, extract(text), pop, now=float(i))
        if i + 1 == 64:
            assert pop.count == 64, "a client's first queries all count"
    assert pop.count < 400, pop.count


def test_a_short_sorted_run_is_too_few_steps_to_score() -> None:
    texts = traffic.uniform(random.Random(8), 40)
    texts[10:22] = [f"What does the Python builtin {n} do?" for n in NAMES[:12]]
    out = run(scorer(), warmed(), texts)
    assert max(a.signals["order"] for a in out) == 0.0


def test_budgets_refuse_with_retry_after_and_trip_once() -> None:
    s = scorer(budgets=Budgets(requests_per_hour=5))
    state, pop = ClientState(), Population.empty()
    out = [s.assess(state, extract("hello there"), pop, now=7200.0 + i) for i in range(8)]
    assert [a.retry_after > 0 for a in out] == [False] * 5 + [True] * 3
    assert [a.budget_tripped for a in out[5:]] == [True, False, False]
    assert out[5].budget == "requests_per_hour"
    assert out[5].retry_after == 3600 - 5
    later = s.assess(state, extract("hello there"), pop, now=7200.0 + 3600)
    assert later.retry_after == 0


def test_block_is_sticky_until_it_expires() -> None:
    s, pop = scorer(block_seconds=100), warmed()
    state = ClientState()
    for i, t in enumerate(traffic.perturbed(random.Random(6), 40)):
        a = s.assess(state, extract(t), pop, now=float(i))
    assert a.level is Level.BLOCK
    calm = traffic.focused(random.Random(7), 200, "csv")
    a = s.assess(state, extract(calm[0]), pop, now=50.0)
    assert a.level is Level.BLOCK
    for i, t in enumerate(calm[1:]):
        a = s.assess(state, extract(t), pop, now=200.0 + i)
    assert a.level < Level.BLOCK


def test_state_packs_to_bytes_and_back() -> None:
    s, pop = scorer(), warmed()
    state = ClientState()
    for i, t in enumerate(traffic.uniform(random.Random(8), 30)):
        s.assess(state, extract(t), pop, now=float(i))
    blob = state.to_bytes()
    back = ClientState.from_bytes(blob)
    assert back.to_bytes() == blob
    assert back.queries == 30
    assert ClientState.from_bytes(blob[:-1]).queries == 0
    assert ClientState.from_bytes(b"\x00" + blob[1:]).queries == 0
    assert Population.from_bytes(pop.to_bytes()).count == pop.count


def test_prada_baseline_runs_when_weighted() -> None:
    s = scorer(weights={"prada": 1.0})
    out = run(s, warmed(), traffic.uniform(random.Random(9), 40))
    assert {a.signals["prada"] for a in out} <= {0.0, 1.0}
    assert scorer().prada is False


def test_detector_audits_each_step_without_prompt_text() -> None:
    sink = MemoryAuditSink()
    store = MemoryStore()
    det = ExtractionDetector(ExtractionSettings(**FAST), store=store, audit=sink)  # type: ignore[arg-type]
    texts = traffic.perturbed(random.Random(10), 40)

    async def go() -> list[Decision]:
        return [await det.check(key_id="k1", source="10.0.0.9", text=t, now=float(i))
                for i, t in enumerate(texts)]  # fmt: skip

    decisions = asyncio.run(go())
    assert decisions[-1].level is Level.BLOCK
    actions = [e.action for e in sink.events if e.resource == "key:k1"]
    assert actions[-1] == "guard.extraction.block"
    assert actions[0] in ("guard.extraction.alert", "guard.extraction.throttle")
    assert any(d.delay > 0 for d in decisions), "throttled before the block"
    block = sink.events[-1]
    assert block.details["top"].startswith("perturbation=")  # type: ignore[union-attr]
    text = " ".join(str(e) for e in sink.events)
    assert not any(w in text for w in texts[0].split() if len(w) > 6)
    assert {e.resource for e in sink.events} == {"key:k1", "addr:10.0.0.9"}


def test_one_address_spreading_over_keys_is_seen() -> None:
    det = ExtractionDetector(ExtractionSettings(**FAST))  # type: ignore[arg-type]
    texts = traffic.perturbed(random.Random(11), 40)

    async def go() -> Decision:
        for i, t in enumerate(texts):
            last = await det.check(key_id=f"k{i % 10}", source="10.0.0.7", text=t, now=float(i))
        return last

    last = asyncio.run(go())
    assert last.level is Level.BLOCK
    assert last.client == "addr:10.0.0.7"


def test_policy_reads_the_extraction_table() -> None:
    table = {"alert": 0.4, "weights": {"prada": 0.5}, "budgets": {"requests_per_day": 9}}
    p = policy_from_mapping({"guard": {"extraction": table}})
    assert p.extraction.alert == 0.4
    assert p.extraction.weights["prada"] == 0.5
    assert p.extraction.budgets.requests_per_day == 9


@pytest.mark.parametrize(
    "table",
    [
        {"nope": 1},
        {"alert": 0.9, "throttle": 0.5},
        {"weights": {"telepathy": 1.0}},
        {"budgets": {"requests_per_week": 1}},
        {"alert": True},
        {"block_seconds": -1},
    ],
)
def test_bad_extraction_tables_are_errors(table: dict[str, object]) -> None:
    with pytest.raises(PolicyError):
        policy_from_mapping({"guard": {"extraction": table}})


def test_a_crawl_mixed_with_on_topic_queries_keeps_jumping() -> None:
    rng = random.Random(12)
    mixed = [t for pair in zip(traffic.uniform(rng, 30), traffic.focused(rng, 30, "csv"),
                               strict=True) for t in pair]  # fmt: skip
    s, pop = scorer(), warmed()
    assert run(s, pop, mixed)[-1].signals["locality"] > 0.5
    assert run(s, pop, traffic.focused(rng, 60, "csv"))[-1].signals["locality"] == 0.0


def jump_rate(texts: list[str]) -> tuple[float, Assessment]:
    s, pop, state = scorer(), warmed(), ClientState()
    out = [s.assess(state, extract(t), pop, now=float(i)) for i, t in enumerate(texts)]
    return state.rate(FLAG_JUMP), out[-1]


def test_a_user_alternating_two_topics_follows_up_where_a_crawl_jumps() -> None:
    rng = random.Random(0)
    # every query is unrelated to the one before it, but not to the one before that
    alternating, last = jump_rate([traffic.ask(rng, ("csv", "json")[i % 2]) for i in range(64)])
    assert last.signals["locality"] == 1.0
    assert last.signals["jumps"] == 0.0
    crawl, _ = jump_rate(traffic.uniform(rng, 64))
    assert crawl > 2 * alternating
