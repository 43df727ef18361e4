"""The signals' numeric shortcuts give exactly what the plain numpy expressions give."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.guard.extraction.features import extract
from bastion.guard.extraction.signals import (
    Population,
    _flag_counts,
    _wide_centroids,
    _widen,
    observe,
)
from bastion.guard.extraction.state import RING, ClientState


def test_widening_matches_numpys_cast_for_every_float16() -> None:
    every = np.arange(1 << 16, dtype=np.uint16).view(np.float16).reshape(256, 256)
    assert np.array_equal(_widen(every).view(np.uint32), every.astype(np.float32).view(np.uint32))
    assert _widen(every[3]).shape == (256,)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=RING, max_size=RING), st.integers(1, 3 * RING))
def test_flag_counts_agree_with_the_per_flag_rates(flags: list[int], queries: int) -> None:
    state = ClientState(queries=queries)
    state.flags[:] = flags
    counts = _flag_counts(state)
    assert len(counts) == 8
    for k, count in enumerate(counts):
        assert count / state.filled == state.rate(1 << k)


def test_the_float32_centroids_follow_the_stored_ones() -> None:
    state, population = ClientState(), Population.empty()
    for i in range(120):
        observe(state, extract(f"topic {i % 40} question {i * 7919 % 97}"), population)
        m = state.clusters
        assert np.array_equal(_wide_centroids(state)[:m], state.centroids[:m].astype(np.float32))
    again = ClientState.from_bytes(state.to_bytes())
    assert again.wide is None
    assert np.array_equal(_wide_centroids(again), _wide_centroids(state))
