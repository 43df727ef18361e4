"""Policy files: which rules run, in what order, with which options and actions.

A policy is TOML (or YAML, when PyYAML is installed) with a list of steps per
direction; every key of a step other than ``rule``, ``action`` and ``fail_closed``
is an option of the rule::

    [guard]
    fail_fast = false

    [[guard.input]]
    rule = "pii"
    action = "redact"
    mode = "placeholder"

Rules are looked up in :data:`RULES`, an explicit ordered registry; a policy cannot
name a class by dotted path. Unknown rules, options or actions are errors.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bastion.errors import PolicyError
from bastion.guard.base import Action, Direction, Rule
from bastion.guard.classifier import HarmfulClassifier, PromptAttackClassifier
from bastion.guard.compliance import ComplianceRule
from bastion.guard.encoding import EncodingRule
from bastion.guard.exfiltration import ActiveContentRule, ExfiltrationRule
from bastion.guard.extraction.settings import ExtractionSettings, settings_from_mapping
from bastion.guard.leakage import PromptLeakRule
from bastion.guard.length import LengthRule
from bastion.guard.patterns import InjectionPatterns, JailbreakPatterns
from bastion.guard.pii import PIIRule
from bastion.guard.pipeline import Pipeline, Step
from bastion.guard.secrets import SecretsRule
from bastion.guard.suffix import AdversarialSuffixRule
from bastion.guard.transformer import TransformerClassifier
from bastion.guard.unicode import UnicodeRule

#: Every built-in rule, by the name a policy uses.
RULES: dict[str, type[Rule]] = {
    cls.name: cls
    for cls in (
        UnicodeRule,
        EncodingRule,
        LengthRule,
        InjectionPatterns,
        JailbreakPatterns,
        AdversarialSuffixRule,
        PromptAttackClassifier,
        HarmfulClassifier,
        TransformerClassifier,
        SecretsRule,
        PIIRule,
        PromptLeakRule,
        ExfiltrationRule,
        ActiveContentRule,
        ComplianceRule,
    )
}

_STEP_KEYS = frozenset({"rule", "action", "fail_closed"})


@dataclass(frozen=True, slots=True)
class Policy:
    """The input pipeline and the output pipeline."""

    input: Pipeline
    output: Pipeline
    source: str = "<default>"
    extraction: ExtractionSettings = field(default_factory=ExtractionSettings)
    #: Characters of a streamed response held back until the output rules have seen
    #: what follows them (see :class:`bastion.guard.stream.StreamGuard`).
    stream_holdback: int = 128


def build_rule(name: str, options: Mapping[str, Any]) -> Rule:
    cls = RULES.get(name)
    if cls is None:
        raise PolicyError(f"unknown guard rule {name!r}; known: {', '.join(RULES)}")
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(options) - set(known)
    if unknown:
        raise PolicyError(f"rule {name!r} has no option(s) {', '.join(sorted(unknown))}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    try:
        rule: Rule = cls(**values)
    except TypeError as exc:
        raise PolicyError(f"bad options for rule {name!r}: {exc}") from exc
    return rule


def _steps(raw: Any, direction: Direction) -> list[Step]:
    if not isinstance(raw, list):
        raise PolicyError(f"[[guard.{direction}]] must be a list of tables")
    steps = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or "rule" not in item:
            raise PolicyError(f"guard.{direction}[{i}] must be a table with a 'rule' key")
        try:
            action = Action(str(item.get("action", "block")))
        except ValueError:
            raise PolicyError(
                f"guard.{direction}[{i}]: action must be one of "
                + ", ".join(a.value for a in Action)
            ) from None
        fail_closed = item.get("fail_closed", True)
        if not isinstance(fail_closed, bool):
            raise PolicyError(f"guard.{direction}[{i}]: fail_closed must be true or false")
        options = {k: v for k, v in item.items() if k not in _STEP_KEYS}
        rule = build_rule(str(item["rule"]), options)
        if direction not in rule.directions:
            raise PolicyError(f"rule {rule.name!r} cannot check {direction} text")
        steps.append(Step(rule, action, fail_closed))
    return steps


def policy_from_mapping(data: Mapping[str, Any], source: str = "<mapping>") -> Policy:
    guard = data.get("guard")
    if not isinstance(guard, Mapping):
        raise PolicyError(f"{source}: a guard policy needs a [guard] table")
    known = {"fail_fast", "input", "output", "max_views", "extraction", "stream_holdback"}
    unknown = set(guard) - known
    if unknown:
        raise PolicyError(f"{source}: unknown [guard] keys {', '.join(sorted(unknown))}")
    fail_fast = bool(guard.get("fail_fast", False))
    max_views = int(guard.get("max_views", 8))
    holdback = guard.get("stream_holdback", 128)
    if isinstance(holdback, bool) or not isinstance(holdback, int) or not 0 <= holdback <= 65536:
        raise PolicyError(f"{source}: stream_holdback must be a whole number from 0 to 65536")
    pipes = {
        d: Pipeline(_steps(guard.get(d.value, []), d), direction=d, fail_fast=fail_fast,
                    max_views=max_views)
        for d in Direction
    }  # fmt: skip
    extraction = settings_from_mapping(guard.get("extraction", {}), source)
    return Policy(pipes[Direction.INPUT], pipes[Direction.OUTPUT], source, extraction, holdback)


def load_policy(path: Path | str | None = None) -> Policy:
    """Read a policy file (``.toml``, ``.yaml``/``.yml``); without a path, the default."""
    if path is None:
        text = resources.files("bastion.guard").joinpath("default_policy.toml").read_text("utf-8")
        return policy_from_mapping(tomllib.loads(text), "<default>")
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy {p}: {exc}") from exc
    if p.suffix in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError:
            raise PolicyError(
                "YAML policies need PyYAML", hint="pip install 'bastion-ml[guard]'"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise PolicyError(f"{p}: invalid YAML: {exc}") from exc
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{p}: invalid TOML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise PolicyError(f"{p}: a policy must be a table")
    return policy_from_mapping(data, str(p))
