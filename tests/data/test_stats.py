"""The hand-written statistics against scipy, and the counters' bounds."""

from __future__ import annotations

import random

import pytest

from bastion.data._stats import CappedCounter, Reservoir, benjamini_hochberg, fisher_greater

stats = pytest.importorskip("scipy.stats")


def test_fisher_matches_scipy() -> None:
    rng = random.Random(0)
    for _ in range(300):
        a, b, c, d = (rng.randint(0, 60) for _ in range(4))
        want = stats.fisher_exact([[a, b], [c, d]], alternative="greater").pvalue
        assert fisher_greater(a, b, c, d) == pytest.approx(want, rel=1e-6, abs=1e-12)
    # Large tables, tiny p-values: still finite and ordered.
    big = fisher_greater(500, 0, 100, 999_400)
    assert 0.0 <= big < 1e-100
    assert fisher_greater(0, 10, 10, 100) == 1.0


def test_benjamini_hochberg_matches_the_definition() -> None:
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    # Largest k with p_(k) <= k/m * q at q = 0.05: k = 2.
    assert benjamini_hochberg(p, 0.05) == [True, True] + [False] * 8
    assert benjamini_hochberg([], 0.05) == []
    assert benjamini_hochberg([0.5, 0.01], 0.05) == [False, True]


def test_capped_counter_stays_bounded_and_keeps_heavy_hitters() -> None:
    counter: CappedCounter[int] = CappedCounter(1000)
    rng = random.Random(1)
    for i in range(200_000):
        counter.add(7 if i % 10 == 0 else rng.randrange(10**9))
        assert len(counter.counts) <= 1000
    assert counter.get(7) >= 20_000 - counter.error
    assert counter.get(7) <= 20_000


def test_reservoir_median() -> None:
    res = Reservoir(size=5000)
    for i in range(100_001):
        res.add(float(i % 1001))
    med, mad = res.median_mad()
    assert 450 <= med <= 550
    assert 300 < mad < 450
