"""Model-extraction detection at the guard proxy (needs NumPy: the ``guard`` extra).

Per client (an API key, and a source address), online and bounded: budgets over three
windows, and extraction signals computed from the queries (topic coverage, distribution
tests against the client's history and the population, templated and enumerated prompts,
templates walked over a sorted list, near-duplicate perturbations, log-probability and
multi-sample requests). A weighted sum of the signals is the client's risk score;
thresholds in the policy map it to graded actions: alert, throttle, re-authenticate, block.
See ``docs/extraction.md``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from bastion.guard.extraction.settings import DEFAULT_WEIGHTS, Budgets, ExtractionSettings

if TYPE_CHECKING:
    from bastion.guard.extraction.detector import Decision, ExtractionDetector
    from bastion.guard.extraction.features import QueryFeatures, extract
    from bastion.guard.extraction.scoring import Assessment, Level, Scorer
    from bastion.guard.extraction.signals import Population
    from bastion.guard.extraction.state import ClientState
    from bastion.guard.extraction.store import (
        ExtractionStoreError,
        MemoryStore,
        RedisStore,
        StateStore,
    )

# NumPy is imported only when a detector part is used, so policies (which read
# ExtractionSettings) load without it.
_LAZY = {
    "Assessment": "bastion.guard.extraction.scoring",
    "ClientState": "bastion.guard.extraction.state",
    "Decision": "bastion.guard.extraction.detector",
    "ExtractionDetector": "bastion.guard.extraction.detector",
    "ExtractionStoreError": "bastion.guard.extraction.store",
    "Level": "bastion.guard.extraction.scoring",
    "MemoryStore": "bastion.guard.extraction.store",
    "Population": "bastion.guard.extraction.signals",
    "QueryFeatures": "bastion.guard.extraction.features",
    "RedisStore": "bastion.guard.extraction.store",
    "Scorer": "bastion.guard.extraction.scoring",
    "StateStore": "bastion.guard.extraction.store",
    "extract": "bastion.guard.extraction.features",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_WEIGHTS",
    "Assessment",
    "Budgets",
    "ClientState",
    "Decision",
    "ExtractionDetector",
    "ExtractionSettings",
    "ExtractionStoreError",
    "Level",
    "MemoryStore",
    "Population",
    "QueryFeatures",
    "RedisStore",
    "Scorer",
    "StateStore",
    "extract",
]
