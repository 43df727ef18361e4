"""The shipped linear classifiers, scored in pure Python.

A model file (``models/<name>.json.gz``) holds a bias, a threshold and a weight per
feature string; ``bench/train_guard.py`` writes it from the development set. The
text scores as its best window of up to ``window`` consecutive sentences (see
:mod:`bastion.guard._features`), and the rule reports ``sigmoid(logit - threshold)``
so that its threshold reads as 0.5, like every other rule. The matched span is the
best window, so a caller can see which sentences made the text suspicious.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import repeat
from pathlib import Path
from typing import Any, ClassVar

from bastion.errors import PolicyError
from bastion.guard._features import WINDOW, sentences, text_features
from bastion.guard.base import Context, Direction, RuleResult, Span


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Weights per feature string, a bias and the calibrated decision threshold."""

    name: str
    bias: float
    threshold: float
    weights: dict[str, float] = field(repr=False)
    window: int = WINDOW

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LinearModel:
        try:
            weights = {str(k): float(v) for k, v in raw["weights"].items()}
            return cls(
                name=str(raw["name"]),
                bias=float(raw["bias"]),
                threshold=float(raw["threshold"]),
                weights=weights,
                window=int(raw.get("window", WINDOW)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PolicyError(f"not a guard model file: {exc}") from exc

    def best_window(self, text: str) -> tuple[float, int, int]:
        """The highest window logit and the sentence range ``[i, j)`` that has it."""
        w = self.weights
        sums = [sum(map(w.get, s, repeat(0.0))) for s in text_features(text)]
        if not sums:
            return self.bias, 0, 0
        best, bi, bj = -math.inf, 0, 1
        for i in range(len(sums)):
            total = self.bias
            for j in range(i, min(i + self.window, len(sums))):
                total += sums[j]
                if total > best:
                    best, bi, bj = total, i, j + 1
        return best, bi, bj

    def score(self, text: str) -> float:
        """``sigmoid(logit - threshold)``: 0.5 at the calibrated threshold."""
        logit = self.best_window(text)[0]
        z = max(-60.0, min(60.0, logit - self.threshold))
        return 1.0 / (1.0 + math.exp(-z))


@cache
def load_model(name_or_path: str) -> LinearModel:
    """A shipped model by name (``prompt_attack``, ``harmful``) or a model file path."""
    if "/" in name_or_path or name_or_path.endswith(".gz"):
        data = Path(name_or_path).read_bytes()
    else:
        res = resources.files("bastion.guard").joinpath("models", f"{name_or_path}.json.gz")
        try:
            data = res.read_bytes()
        except FileNotFoundError:
            raise PolicyError(f"no shipped guard model named {name_or_path!r}") from None
    try:
        raw = json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    except (OSError, ValueError) as exc:
        raise PolicyError(f"cannot read guard model {name_or_path!r}: {exc}") from exc
    return LinearModel.from_json(raw)


def _window_span(text: str, i: int, j: int) -> Span | None:
    """Character span of sentences ``[i, j)``, found again in ``text``."""
    sents = sentences(text)
    if not sents or i >= len(sents):
        return None
    start = text.find(sents[i])
    last = sents[min(j, len(sents)) - 1]
    end_at = text.find(last, max(start, 0))
    if start < 0 or end_at < 0:
        return None
    return Span(start, end_at + len(last), "window")


@dataclass(frozen=True, slots=True)
class _ClassifierRule:
    model: str = ""
    threshold: float = 0.5
    reason_code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    directions: ClassVar[frozenset[Direction]] = frozenset({Direction.INPUT})

    def check(self, text: str, ctx: Context) -> RuleResult:
        m = load_model(self.model)
        logit, i, j = m.best_window(text)
        z = max(-60.0, min(60.0, logit - m.threshold))
        score = 1.0 / (1.0 + math.exp(-z))
        if score < self.threshold:
            return RuleResult.clean(self.name, score)
        span = _window_span(text, i, j)
        return RuleResult(
            rule=self.name,
            triggered=True,
            score=score,
            reason=self.reason_code,
            spans=(span,) if span else (),
        )


@dataclass(frozen=True, slots=True)
class PromptAttackClassifier(_ClassifierRule):
    """Prompt injection (direct or hidden in data) and jailbreaks, by the shipped model."""

    name: ClassVar[str] = "prompt-attack"
    reason_code: ClassVar[str] = "prompt-attack"
    model: str = "prompt_attack"


@dataclass(frozen=True, slots=True)
class HarmfulClassifier(_ClassifierRule):
    """Plain requests for harmful help (malware, weapons, fraud...), by the shipped model."""

    name: ClassVar[str] = "harmful"
    reason_code: ClassVar[str] = "harmful-request"
    model: str = "harmful"
