from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from bastion.guard import Action, Context, Direction, Pipeline, RuleResult, Step, Verdict
from bastion.guard.unicode import UnicodeRule


@dataclass(frozen=True)
class FakeRule:
    """Fires when ``needle`` is in the text; records what it saw."""

    needle: str
    name: ClassVar[str] = "fake"
    directions: ClassVar[frozenset[Direction]] = frozenset(Direction)
    seen: list[str] | None = None

    def check(self, text: str, ctx: Context) -> RuleResult:
        if self.seen is not None:
            self.seen.append(text)
        if self.needle in text:
            at = text.index(self.needle)
            red = text.replace(self.needle, "***")
            return RuleResult(self.name, True, 0.9, "fake.hit", redacted=red) if at >= 0 else None  # type: ignore[return-value]
        return RuleResult.clean(self.name, 0.1)


@dataclass(frozen=True)
class Boom:
    name: ClassVar[str] = "boom"
    directions: ClassVar[frozenset[Direction]] = frozenset(Direction)

    def check(self, text: str, ctx: Context) -> RuleResult:
        raise RuntimeError("bug")


def test_actions_order_to_strictest_verdict() -> None:
    p = Pipeline([Step(FakeRule("a"), Action.FLAG), Step(FakeRule("b"), Action.BLOCK)])
    assert p.scan("a").verdict is Verdict.FLAG
    assert p.scan("a b").verdict is Verdict.BLOCK
    assert p.scan("c").verdict is Verdict.ALLOW
    assert not p.scan("c").flagged


def test_redact_step_rewrites_text_for_later_steps() -> None:
    seen: list[str] = []
    p = Pipeline([Step(FakeRule("key"), Action.REDACT), Step(FakeRule("zzz", seen=seen))])
    result = p.scan("my key is here")
    assert result.verdict is Verdict.REDACT
    assert result.text == "my *** is here"
    assert seen == ["my *** is here"]
    assert not result.flagged  # a redaction alone is not suspicion


def test_fail_fast_stops_at_first_block() -> None:
    seen: list[str] = []
    steps = [Step(FakeRule("x")), Step(FakeRule("y", seen=seen))]
    assert len(Pipeline(steps, fail_fast=True).scan("x").results) == 1
    assert seen == []
    assert len(Pipeline(steps).scan("x").results) == 2


def test_failing_rule_fails_closed_by_default() -> None:
    result = Pipeline([Step(Boom(), Action.FLAG)]).scan("anything")
    assert result.blocked
    assert result.errors == ("boom",)
    assert result.reasons == ("rule-error",)


def test_failing_rule_can_fail_open() -> None:
    result = Pipeline([Step(Boom(), Action.BLOCK, fail_closed=False)]).scan("anything")
    assert result.verdict is Verdict.ALLOW
    assert result.errors == ("boom",)


def test_normalisation_runs_for_later_rules() -> None:
    seen: list[str] = []
    p = Pipeline([Step(UnicodeRule(), Action.FLAG), Step(FakeRule("ignore", seen=seen))])
    result = p.scan("іgnоrе\u200b this")  # Cyrillic i and o, zero-width space
    assert seen == ["ignore this"]
    assert result.blocked


def test_rule_must_support_direction() -> None:
    from bastion.guard.leakage import PromptLeakRule

    with pytest.raises(ValueError, match="does not apply"):
        Pipeline([Step(PromptLeakRule())], direction=Direction.INPUT)


def test_result_to_dict_never_contains_matched_text() -> None:
    p = Pipeline([Step(FakeRule("secret-value"))])
    data = p.scan("the secret-value is here").to_dict()
    assert data["verdict"] == "block"
    assert data["rules"] == ["fake"]
    assert "secret-value" not in str(data)
