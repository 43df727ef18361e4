"""The combined risk score, the graded action in force, and the budgets (no I/O here).

The score is the sum of each signal's score times its weight, times a ramp that grows
from 0 at ``min_queries`` to 1 at ``full_queries`` (few queries prove little). The level
is the highest threshold the score reaches: alert < throttle < reauth < block. Re-
authentication and blocks are sticky (``reauth_seconds``, ``block_seconds``); alerts and
throttling last until the score falls ``hysteresis`` below their threshold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType

from bastion.guard.extraction.features import QueryFeatures
from bastion.guard.extraction.settings import ExtractionSettings
from bastion.guard.extraction.signals import Population, observe
from bastion.guard.extraction.state import ClientState

_WINDOW_SECONDS = (60, 3600, 86400)
_WINDOW_NAMES = ("minute", "hour", "day")


class Level(IntEnum):
    NONE = 0
    ALERT = 1
    THROTTLE = 2
    REAUTH = 3
    BLOCK = 4

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Assessment:
    """What one query did to one client's standing."""

    score: float
    level: Level
    raised: bool  # the level rose with this query (an audit event is due)
    contributions: Mapping[str, float] = field(default_factory=dict)
    signals: Mapping[str, float] = field(default_factory=dict)  # each signal, ramp applied
    retry_after: int = 0  # > 0: a budget is spent; refuse with 429
    budget: str = ""  # which budget, e.g. "requests_per_hour"
    budget_tripped: bool = False  # this is the first refusal in the window

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` largest contributions, largest first (zeros left out)."""
        items = sorted(self.contributions.items(), key=lambda kv: -kv[1])
        return [(name, round(v, 3)) for name, v in items[:k] if v > 0]


def _budget(
    state: ClientState, settings: ExtractionSettings, tokens: int, now: float
) -> tuple[int, str, bool]:
    """Count the request against every window; (retry_after, budget name, first refusal)."""
    b = settings.budgets
    limits = (
        (b.requests_per_minute, b.tokens_per_minute),
        (b.requests_per_hour, b.tokens_per_hour),
        (b.requests_per_day, b.tokens_per_day),
    )
    # nine numbers: Python floats cost less than numpy scalars (the same float64 arithmetic)
    windows = state.budget.tolist()
    for i, seconds in enumerate(_WINDOW_SECONDS):
        start = math.floor(now / seconds) * seconds
        if windows[i][0] != start:
            windows[i] = [float(start), 0.0, 0.0]
    for i, seconds in enumerate(_WINDOW_SECONDS):
        max_req, max_tok = limits[i]
        window = windows[i]
        retry = max(1, math.ceil(window[0] + seconds - now))
        if max_req and window[1] + 1 > max_req:
            first = window[1] == max_req
            window[1] = max_req + 1  # marks the window as tripped
            state.budget[:] = windows
            return retry, f"requests_per_{_WINDOW_NAMES[i]}", first
        if max_tok and window[2] + tokens > max_tok:
            first = window[2] <= max_tok
            window[2] = max_tok + 1
            state.budget[:] = windows
            return retry, f"tokens_per_{_WINDOW_NAMES[i]}", first
    for window in windows:
        window[1] += 1
        window[2] += tokens
    state.budget[:] = windows
    return 0, "", False


class Scorer:
    """Turns one query into an :class:`Assessment`, updating the client's state in place."""

    def __init__(self, settings: ExtractionSettings) -> None:
        self.settings = settings
        # the PRADA baseline costs a Shapiro-Wilk test per query: only when it counts
        self.prada = settings.weights.get("prada", 0.0) > 0

    def level_for(self, score: float) -> Level:
        level = Level.NONE
        levels = (Level.ALERT, Level.THROTTLE, Level.REAUTH, Level.BLOCK)
        for lv, threshold in zip(levels, self.settings.thresholds(), strict=True):
            if score >= threshold:
                level = lv
        return level

    def assess(
        self,
        state: ClientState,
        q: QueryFeatures,
        population: Population,
        *,
        tokens: int = 0,
        now: float,
    ) -> Assessment:
        s = self.settings
        retry, which, tripped = _budget(state, s, tokens, now)
        if retry:
            level = Level(state.level) if state.level_until > now else Level.NONE
            return Assessment(
                state.score, level, False, retry_after=retry, budget=which, budget_tripped=tripped
            )
        if not state.first_seen:
            state.first_seen = now
        state.last_seen = now
        signals = observe(state, q, population, prada=self.prada, population_min=s.population_min)
        span = max(1, s.full_queries - s.min_queries)
        ramp = min(1.0, max(0.0, (state.queries - s.min_queries + 1) / span))
        ramped = {k: v * ramp for k, v in signals.items()}
        contributions = {k: s.weights.get(k, 0.0) * v for k, v in ramped.items()}
        score = sum(contributions.values())
        state.score = score
        level = self.level_for(score)
        previous = Level(state.level)
        # hysteresis: an alert or a throttle lifts only when the score falls clearly
        if (
            level < previous <= Level.THROTTLE
            and score >= s.thresholds()[previous - 1] - s.hysteresis
        ):
            level = previous
        sticky = Level(state.level) if state.level_until > now else Level.NONE
        if level >= Level.REAUTH and level > sticky:
            hold = s.block_seconds if level is Level.BLOCK else s.reauth_seconds
            state.level_until = int(now + hold)
        level = max(level, sticky)
        state.level = int(level)
        raised = level > previous or (level >= Level.REAUTH and sticky is Level.NONE
                                      and previous >= Level.REAUTH)  # fmt: skip
        return Assessment(
            score, level, raised, MappingProxyType(contributions), MappingProxyType(ramped)
        )
