"""Small statistics the detectors need, in the standard library only.

- :func:`fisher_greater`: one-sided Fisher exact test on a 2x2 table (is the pair
  seen together more often than chance?), summing hypergeometric terms in log space;
- :func:`benjamini_hochberg`: which of many p-values to keep at a false-discovery rate;
- :class:`CappedCounter`: counts in bounded memory (lossy counting: when full, the
  rarest keys are dropped and the count a key may have lost is remembered);
- :class:`Reservoir`: a fixed-size uniform sample, for medians and MADs of a stream.

Hand-written because scipy would be a heavy dependency for two functions, and a
count-min sketch in pure Python is slower than a pruned dict.
"""

from __future__ import annotations

import math
import random
from collections.abc import Hashable, Iterable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def fisher_greater(a: int, b: int, c: int, d: int) -> float:
    """P(X >= a) for the table [[a, b], [c, d]] with fixed margins (one-sided)."""
    row, col, n = a + b, a + c, a + b + c + d
    if n == 0 or row == 0 or col == 0:
        return 1.0
    top = min(row, col)
    denom = _log_comb(n, col)
    total = 0.0
    first = None
    for k in range(a, top + 1):
        term = _log_comb(row, k) + _log_comb(n - row, col - k) - denom
        if first is None:
            first = term
        elif term < first - 40:  # later terms only shrink below the first's 1e-17
            break
        total += math.exp(term)
    return min(1.0, total)


def benjamini_hochberg(pvalues: Sequence[float], q: float) -> list[bool]:
    """For each p-value, whether it is a discovery at false-discovery rate ``q``."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    cutoff = -1
    for rank, i in enumerate(order, start=1):
        if pvalues[i] <= q * rank / m:
            cutoff = rank
    keep = [False] * m
    for rank, i in enumerate(order, start=1):
        if rank <= cutoff:
            keep[i] = True
    return keep


class CappedCounter(Generic[K]):
    """A dict of counts that never holds more than ``cap`` keys.

    When full, keys whose count is at or below the current floor are dropped and the
    floor rises; ``error`` is the most any surviving count may be short by.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.counts: dict[K, int] = {}
        self.error = 0

    def add(self, key: K, n: int = 1) -> None:
        counts = self.counts
        counts[key] = counts.get(key, 0) + n
        if len(counts) > self.cap:
            self._prune()

    def add_all(self, keys: Iterable[K]) -> None:
        """:meth:`add` each of ``keys`` (one call: what a row holds, in a loop in one place)."""
        counts = self.counts
        cap = self.cap
        for key in keys:
            counts[key] = counts.get(key, 0) + 1
            if len(counts) > cap:
                self._prune()
                counts = self.counts

    def _prune(self) -> None:
        floor = self.error + 1
        while len(self.counts) > self.cap // 2:
            self.counts = {k: v for k, v in self.counts.items() if v > floor}
            floor += 1
        self.error = floor - 1

    def get(self, key: K) -> int:
        return self.counts.get(key, 0)

    def at_least(self, n: int) -> dict[K, int]:
        return {k: v for k, v in self.counts.items() if v >= n}


class Reservoir:
    """A uniform sample of at most ``size`` numbers from a stream (algorithm R)."""

    def __init__(self, size: int = 20_000, seed: int = 0) -> None:
        self.size = size
        self.seen = 0
        self.items: list[float] = []
        self._rng = random.Random(seed)  # noqa: S311 - sampling, not secrets

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(value)
            return
        j = self._rng.randrange(self.seen)
        if j < self.size:
            self.items[j] = value

    def median_mad(self) -> tuple[float, float]:
        """Median and median absolute deviation (scaled to a normal's sigma)."""
        if not self.items:
            return 0.0, 0.0
        xs = sorted(self.items)
        med = _median(xs)
        mad = _median(sorted(abs(x - med) for x in xs)) * 1.4826
        return med, mad


def _median(xs: Sequence[float]) -> float:
    n = len(xs)
    mid = n // 2
    return xs[mid] if n % 2 else (xs[mid - 1] + xs[mid]) / 2
