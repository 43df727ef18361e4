"""The pipeline: rules in an explicit order, each with its action.

For every step the pipeline runs the rule on the current working text:

* a rule that ``rewrites`` (Unicode normalisation) replaces the working text
  whatever its action, so every later rule sees normalised text;
* a rule that returns ``views`` (decoded payloads) adds them to the texts checked by
  the later rules that ``scan_views``; a rule's score is its best over all views;
* a ``redact`` step that fires replaces the working text with its redaction;
* a ``block`` step that fires ends the scan when ``fail_fast`` is set.

A rule that raises is recorded in ``errors`` and, when its step fails closed (the
default), counts as a block: the pipeline never passes text it could not check.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bastion.guard.base import (
    Action,
    Context,
    Direction,
    Rule,
    RuleResult,
    ScanResult,
    Verdict,
)

log = logging.getLogger(__name__)

#: Rules that look for hostile content and therefore also check decoded views.
VIEW_RULES = frozenset(
    {"prompt-attack", "harmful", "injection-patterns", "jailbreak-patterns", "secrets",
     "transformer"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Step:
    """One rule and what to do when it fires."""

    rule: Rule
    action: Action = Action.BLOCK
    fail_closed: bool = True


class Pipeline:
    """An ordered list of steps for one direction."""

    def __init__(
        self,
        steps: Sequence[Step],
        *,
        direction: Direction = Direction.INPUT,
        fail_fast: bool = False,
        max_views: int = 8,
    ) -> None:
        for step in steps:
            if direction not in step.rule.directions:
                raise ValueError(f"rule {step.rule.name!r} does not apply to {direction} text")
        self.steps = tuple(steps)
        self.direction = direction
        self.fail_fast = fail_fast
        self.max_views = max_views

    @property
    def rule_names(self) -> tuple[str, ...]:
        return tuple(s.rule.name for s in self.steps)

    def scan(self, text: str, ctx: Context | None = None) -> ScanResult:
        ctx = ctx or Context()
        working = text
        views: list[str] = []
        results: list[RuleResult] = []
        errors: list[str] = []
        verdict = Verdict.ALLOW
        for step in self.steps:
            rule = step.rule
            try:
                result = rule.check(working, ctx)
                if rule.name in VIEW_RULES and views:
                    for view in views[: self.max_views]:
                        alt = rule.check(view, ctx)
                        if alt.score > result.score:
                            result = RuleResult(
                                alt.rule, alt.triggered, alt.score, alt.reason,
                                details={"decoded": True},
                            )  # fmt: skip
            except Exception as exc:
                log.warning("guard rule %s failed: %s", rule.name, type(exc).__name__)
                errors.append(rule.name)
                if step.fail_closed:
                    results.append(RuleResult(rule.name, True, 1.0, "rule-error"))
                    verdict = Verdict.BLOCK
                    if self.fail_fast:
                        break
                continue
            results.append(result)
            if getattr(rule, "rewrites", False) and result.redacted is not None:
                working = result.redacted
            views.extend(result.views)
            if not result.triggered:
                continue
            verdict = max(verdict, Verdict.for_action(step.action))
            if step.action is Action.REDACT and result.redacted is not None:
                working = result.redacted
            if verdict is Verdict.BLOCK and self.fail_fast:
                break
        score = max((r.score for r in results), default=0.0)
        return ScanResult(
            verdict=verdict,
            score=score,
            text=working,
            direction=self.direction,
            results=tuple(results),
            errors=tuple(errors),
        )
