"""Extraction detection: simulated benign users and attackers through the detector.

Usage::

    python bench/extraction.py [--users 25] [--days 4] [--attackers 5] \\
        [--write docs/benchmarks-extraction.md]

Benign kinds (each user for ``--days`` days): focused (one or two topics), exploratory
(sessions hopping over eight topics), batch (one prompt template over one to three topics;
the classifier template asks for log-probabilities), heavy (300-1,000 queries a day; some
ask for n=3 samples). Attacker kinds (``--attackers`` of each, up to ``--budget`` queries):
uniform coverage, mixed (half coverage, half one home topic), perturbation (edits of 10-40
seed prompts), enumeration (one phrasing over every item in turn, with log-probabilities),
slow (uniform at 40 queries a day, under any rate limit), multi-key (uniform over 10 keys
from 10 addresses), shuffled (enumeration over the same list in a random order), rotating
(the same in a random one of four other phrasings per query, without log-probabilities).
Shuffled and rotating run last, so the other kinds draw the same traffic as without them.

Every query goes through :class:`bastion.guard.extraction.Scorer` exactly as the proxy
calls it (features, then the assessment), with one state per client. Reported per
detector: a single signal "detects" a client when its score, after the query-count ramp,
reaches 0.5 (the default alert threshold at weight 1); "combined" is the policy's alert
level (and, separately, block). A false alarm is a benign user-day on which the detector
fired. CPU is process time per query, features included.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from _extraction_traffic import Query, Sim, build_pool
from bastion.guard.extraction import (
    DEFAULT_WEIGHTS,
    ClientState,
    ExtractionSettings,
    Level,
    Population,
    Scorer,
    extract,
)

DETECTORS = (*DEFAULT_WEIGHTS, "combined", "combined-block")
BENIGN = ("focused", "exploratory", "batch", "heavy")
ATTACKERS = (
    "uniform",
    "mixed",
    "perturbation",
    "enumeration",
    "slow",
    "multi-key",
    "shuffled",
    "rotating",
)


class Harness:
    def __init__(self, settings: ExtractionSettings) -> None:
        self.scorer = Scorer(settings)
        self.population = Population.empty()
        self.cpu = 0.0
        self.queries = 0

    def fired(self, state: ClientState, query: Query) -> set[str]:
        """Run one query; the detectors that fire on it."""
        t, text, params = query
        c0 = time.process_time()
        q = extract(text, params)
        a = self.scorer.assess(state, q, self.population, tokens=len(text) // 4, now=t)
        self.cpu += time.process_time() - c0
        self.queries += 1
        out = {k for k, v in a.signals.items() if v >= 0.5}
        if a.level >= Level.ALERT:
            out.add("combined")
        if a.level >= Level.BLOCK:
            out.add("combined-block")
        return out


def warm(h: Harness, sim: Sim, users: int) -> None:
    """The population mean comes from benign traffic, as it would in service."""
    for i in range(users):
        state = ClientState()
        for query in getattr(sim, BENIGN[i % len(BENIGN)])(1):
            h.fired(state, query)


def run_benign(h: Harness, sim: Sim, users: int, days: int) -> dict[str, dict[str, int]]:
    """kind -> detector -> user-days with a false alarm (plus '_days')."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for kind in BENIGN:
        for _ in range(users):
            state = ClientState()
            fired_days: dict[str, set[int]] = defaultdict(set)
            for query in getattr(sim, kind)(days):
                day = int(query[0] // 86400)
                for d in h.fired(state, query):
                    fired_days[d].add(day)
            out[kind]["_days"] += days
            for d, ds in fired_days.items():
                out[kind][d] += len(ds)
    return out


def _attack(h: Harness, stream: Iterator[Query], keys: int) -> dict[str, int]:
    """detector -> queries until it first fired (absent: never)."""
    states = [ClientState() for _ in range(keys)]
    first: dict[str, int] = {}
    for n, query in enumerate(stream, 1):
        for d in h.fired(states[n % keys], query):
            first.setdefault(d, n)
    return first


def run_attackers(h: Harness, sim: Sim, count: int, budget: int) -> dict[str, list[dict[str, int]]]:
    makers: dict[str, Callable[[], tuple[Iterator[Query], int]]] = {
        "uniform": lambda: (sim.uniform(budget), 1),
        "mixed": lambda: (sim.mixed(budget), 1),
        "perturbation": lambda: (sim.perturbation(budget), 1),
        "enumeration": lambda: (sim.enumeration(budget), 1),
        "slow": lambda: (sim.slow(budget), 1),
        "multi-key": lambda: (sim.uniform(budget * 5), 10),
        "shuffled": lambda: (sim.shuffled(budget), 1),
        "rotating": lambda: (sim.rotating(budget), 1),
    }
    return {kind: [_attack(h, *makers[kind]()) for _ in range(count)] for kind in ATTACKERS}


def _cell(results: list[dict[str, int]], det: str, limit: int) -> str:
    hits = [r[det] for r in results if det in r and r[det] <= limit]
    if not hits:
        return f"0/{len(results)}"
    return f"{len(hits)}/{len(results)} (median {statistics.median(hits):.0f}, max {max(hits)})"


def report(
    args: argparse.Namespace,
    benign: dict[str, dict[str, int]],
    attacks: dict[str, list[dict[str, int]]],
    cpu_us: float,
    queries: int,
) -> str:
    lines = [
        "Written by `bench/extraction.py` (see its docstring for the traffic). "
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; seed {args.seed}; {args.users} benign users per "
        f"kind for {args.days} days; {args.attackers} attackers per kind, each stopped after "
        f"{args.budget} queries (multi-key: {args.budget * 5} over 10 keys).",
        "",
        "Query pool: first sentences of the docstrings of Python standard-library modules "
        "(one topic per module), in 14 phrasings.",
        "",
        "### Attackers detected (queries until the detector first fired)",
        "",
        "A cell reads `caught/attackers (median, max queries until caught)`; only detections "
        f"within {args.limit} queries count (the issue's target). Multi-key counts the "
        "attacker's queries over all its keys.",
        "",
        "| detector | " + " | ".join(ATTACKERS) + " |",
        "|---|" + "---|" * len(ATTACKERS),
    ]
    for det in DETECTORS:
        cells = [_cell(attacks[k], det, args.limit * (5 if k == "multi-key" else 1))
                 for k in ATTACKERS]  # fmt: skip
        lines.append(f"| {det} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "### False alarms per 100 benign user-days",
        "",
        "| detector | " + " | ".join(BENIGN) + " | all |",
        "|---|" + "---:|" * (len(BENIGN) + 1),
    ]
    for det in DETECTORS:
        per = [100 * benign[k].get(det, 0) / benign[k]["_days"] for k in BENIGN]
        total = 100 * sum(benign[k].get(det, 0) for k in BENIGN) / sum(
            benign[k]["_days"] for k in BENIGN)  # fmt: skip
        lines.append(f"| {det} | " + " | ".join(f"{p:.1f}" for p in per) + f" | {total:.2f} |")
    lines += [
        "",
        f"### CPU per query\n\n{cpu_us:.0f} µs of process time per query on average over "
        f"the {queries:,} queries above, feature extraction and every signal included (PRADA's "
        "Shapiro-Wilk test too; one state per client in memory).",
        "",
    ]
    return "\n".join(lines)


def cpu_pass(sim: Sim, n: int = 3000) -> tuple[float, float, float]:
    """Default settings (PRADA off): µs of CPU per feature extraction, per assessment, and
    per proxied request (one extraction, two assessments: the key and the address)."""
    scorer, pop = Scorer(ExtractionSettings()), Population.empty()
    states = [ClientState() for _ in range(8)]
    queries = list(sim.uniform(n // 2)) + list(sim.focused(1)) * 4
    queries = queries[:n]
    t_ext = t_ass = 0.0
    for i, (t, text, params) in enumerate(queries):
        c0 = time.process_time()
        q = extract(text, params)
        c1 = time.process_time()
        scorer.assess(states[i % 8], q, pop, tokens=len(text) // 4, now=t)
        t_ext += c1 - c0
        t_ass += time.process_time() - c1
    ext, ass = 1e6 * t_ext / len(queries), 1e6 * t_ass / len(queries)
    return ext, ass, ext + 2 * ass


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--users", type=int, default=25, help="benign users per kind")
    p.add_argument("--days", type=int, default=4)
    p.add_argument("--attackers", type=int, default=5, help="attackers per kind")
    p.add_argument("--budget", type=int, default=300, help="queries per attacker")
    p.add_argument("--limit", type=int, default=200, help="detections count within this")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--write", type=Path, default=None)
    p.add_argument(
        "--section",
        default="main",
        help="with --write: replace only this section (between its markers) of the file",
    )
    args = p.parse_args()
    pool = build_pool()
    sim = Sim(pool, args.seed)
    # PRADA is off by default (weight 0); it is turned on here at a negligible weight so it
    # is computed and reported. The CPU figure is measured again below without it.
    weights = dict(DEFAULT_WEIGHTS, prada=1e-9)
    h = Harness(ExtractionSettings(weights=weights))
    warm(h, sim, 20)
    h.cpu, h.queries = 0.0, 0
    benign = run_benign(h, sim, args.users, args.days)
    attacks = run_attackers(h, sim, args.attackers, args.budget)
    text = report(args, benign, attacks, 1e6 * h.cpu / max(1, h.queries), h.queries)
    ext, ass, request = cpu_pass(sim)
    text += (
        f"With the default policy (PRADA off), measured separately: {ext:.0f} µs to extract "
        f"one query's features, {ass:.0f} µs to score it for one client, so {request:.0f} µs "
        "per proxied request (features once, scored for the key and for the address).\n"
    )
    print(text)
    print(f"pool: {len(pool)} topics, {sum(map(len, pool.values()))} items")
    if args.write:
        write_section(args.write, args.section, text)


def write_section(path: Path, section: str, text: str) -> None:
    """Put ``text`` between the section's markers in ``path``; the rest is kept."""
    start = f"<!-- extraction-bench:{section}:start -->"
    end = f"<!-- extraction-bench:{section}:end -->"
    block = f"{start}\n{text.rstrip()}\n{end}"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if start in old and end in old:
        head, rest = old.split(start, 1)
        new = head + block + rest.split(end, 1)[1]
    else:
        title = "" if old else "# Benchmark: model-extraction detection at the guard proxy\n\n"
        new = old + ("\n" if old else "") + title + block + "\n"
    path.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    main()
