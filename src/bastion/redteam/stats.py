"""Paired significance tests and the Benjamini-Hochberg correction, standard library only.

* :func:`mcnemar_exact`: two paired binary outcomes (refused or not); the exact test is a
  two-sided binomial test on the discordant pairs.
* :func:`paired_permutation`: paired differences (sentiment, length); a sign-flip
  permutation test on the mean, exact for up to ``exact_max`` pairs, else Monte Carlo
  with a seeded generator (so a run is reproducible).
* :func:`benjamini_hochberg`: q-values controlling the false discovery rate.

Hand-written so the core package needs no SciPy; the tests compare them with SciPy.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence


def mcnemar_exact(pairs: Sequence[tuple[bool, bool]]) -> float:
    """Two-sided exact McNemar p-value for pairs of (reference, variant) outcomes."""
    b = sum(1 for x, y in pairs if x and not y)
    c = sum(1 for x, y in pairs if y and not x)
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / float(1 << n)
    return min(1.0, 2 * tail)


def paired_permutation(
    diffs: Sequence[float], *, seed: int = 0, resamples: int = 10_000, exact_max: int = 14
) -> float:
    """Two-sided p-value that the mean of paired differences is zero (sign flips)."""
    values = [d for d in diffs if d != 0]  # zero differences do not move under sign flips
    if not values:
        return 1.0
    observed = abs(sum(values)) - 1e-12
    if len(values) <= exact_max:
        hits = sum(
            1
            for signs in itertools.product((1, -1), repeat=len(values))
            if abs(sum(s * v for s, v in zip(signs, values, strict=True))) >= observed
        )
        return hits / float(1 << len(values))
    rng = random.Random(seed)  # noqa: S311 - reproducible resampling, not a secret
    hits = 0
    for _ in range(resamples):
        total = sum(v if rng.random() < 0.5 else -v for v in values)
        hits += abs(total) >= observed
    return (hits + 1) / (resamples + 1)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        q[i] = min(1.0, running)
    return q
