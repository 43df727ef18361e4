"""The ``[guard.extraction]`` table of a policy file: weights, thresholds, actions, budgets.

::

    [guard.extraction]
    enabled = true
    alert = 0.5          # combined score at which each graded action starts
    throttle = 0.7
    reauth = 0.85
    block = 1.0
    throttle_delay = 2.0     # seconds each request of a throttled client waits
    reauth_seconds = 3600    # how long a client must re-authenticate (401) before retrying
    block_seconds = 86400    # how long a block lasts
    per_source = true        # also score each source address, across keys

    [guard.extraction.weights]   # a signal's score (0..1) times its weight adds to the total
    coverage = 1.0

    [guard.extraction.budgets]   # hard caps (429 with Retry-After) per key and per address
    requests_per_hour = 2000
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from bastion.errors import PolicyError

#: Every signal, in the order reports list them, with its default weight. PRADA is the
#: published baseline (Shapiro-Wilk on minimum distances); it is measured, not trusted.
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "coverage": 0.5,
        "broadness": 1.0,
        "locality": 0.6,
        "jumps": 0.5,
        "drift": 0.0,
        "perturbation": 1.0,
        "enumeration": 0.8,
        "order": 0.8,
        "lookup": 0.6,
        "template": 0.0,
        "sampling": 0.2,
        "prada": 0.0,
    }
)


@dataclass(frozen=True, slots=True)
class Budgets:
    """Hard per-client caps over three windows (0 turns a cap off)."""

    requests_per_minute: int = 0
    requests_per_hour: int = 3000
    requests_per_day: int = 20000
    tokens_per_minute: int = 0
    tokens_per_hour: int = 2_000_000
    tokens_per_day: int = 20_000_000


@dataclass(frozen=True, slots=True)
class ExtractionSettings:
    enabled: bool = True
    alert: float = 0.5
    throttle: float = 0.7
    reauth: float = 0.85
    block: float = 1.0
    throttle_delay: float = 2.0
    reauth_seconds: int = 3600
    block_seconds: int = 86400
    per_source: bool = True
    min_queries: int = 16  # no score before a client has sent this many queries
    full_queries: int = 48  # scores reach full strength at this many queries
    state_ttl: int = 30 * 86400  # Redis keeps an idle client's state this long
    max_clients: int = 10_000  # the in-memory store forgets the least recent beyond this
    hysteresis: float = 0.15  # an alert or throttle lifts this far below its threshold
    population_min: int = 1000  # queries from everybody before "broadness" is judged
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    budgets: Budgets = field(default_factory=Budgets)

    def thresholds(self) -> tuple[float, float, float, float]:
        return self.alert, self.throttle, self.reauth, self.block


def _number(source: str, key: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) and kind is not bool:
        raise PolicyError(f"{source}: guard.extraction.{key} must be a number")
    if kind is bool and not isinstance(value, bool):
        raise PolicyError(f"{source}: guard.extraction.{key} must be true or false")
    if kind in (int, float) and not isinstance(value, int | float):
        raise PolicyError(f"{source}: guard.extraction.{key} must be a number")
    if kind is int and not isinstance(value, int):
        raise PolicyError(f"{source}: guard.extraction.{key} must be a whole number")
    if kind is not bool and value < 0:
        raise PolicyError(f"{source}: guard.extraction.{key} must not be negative")
    return kind(value)


def settings_from_mapping(raw: Any, source: str = "<mapping>") -> ExtractionSettings:
    """Parse ``[guard.extraction]``; unknown keys and signals are errors."""
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{source}: [guard.extraction] must be a table")
    base = ExtractionSettings()
    scalars = {f.name: type(getattr(base, f.name)) for f in fields(base)}
    scalars.pop("weights")
    scalars.pop("budgets")
    unknown = set(raw) - set(scalars) - {"weights", "budgets"}
    if unknown:
        raise PolicyError(f"{source}: unknown [guard.extraction] keys {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {k: _number(source, k, v, scalars[k]) for k, v in raw.items()
                              if k in scalars}  # fmt: skip
    weights = dict(DEFAULT_WEIGHTS)
    for name, w in dict(raw.get("weights", {})).items():
        if name not in DEFAULT_WEIGHTS:
            raise PolicyError(
                f"{source}: unknown extraction signal {name!r}; known: {', '.join(DEFAULT_WEIGHTS)}"
            )
        weights[name] = _number(source, f"weights.{name}", w, float)
    budget_raw = dict(raw.get("budgets", {}))
    names = {f.name for f in fields(Budgets)}
    if set(budget_raw) - names:
        raise PolicyError(f"{source}: unknown extraction budgets {sorted(set(budget_raw) - names)}")
    budgets = Budgets(**{k: _number(source, f"budgets.{k}", v, int) for k, v in budget_raw.items()})
    out = replace(base, weights=MappingProxyType(weights), budgets=budgets, **values)
    levels = out.thresholds()
    if list(levels) != sorted(levels) or levels[0] <= 0:
        raise PolicyError(
            f"{source}: extraction thresholds must be positive and rise: alert <= throttle "
            "<= reauth <= block"
        )
    return out
