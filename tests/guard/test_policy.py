from __future__ import annotations

from pathlib import Path

import pytest

from bastion.errors import PolicyError
from bastion.guard import RULES, Action, Direction, load_policy, policy_from_mapping


def test_default_policy_loads_every_direction() -> None:
    policy = load_policy()
    assert policy.input.rule_names[0] == "unicode"
    assert "prompt-attack" in policy.input.rule_names
    assert "prompt-leak" in policy.output.rule_names
    assert policy.output.direction is Direction.OUTPUT


def test_options_actions_and_lists() -> None:
    policy = policy_from_mapping(
        {"guard": {"fail_fast": True, "output": [
            {"rule": "exfiltration", "action": "redact", "allowlist": ["acme.test"]}
        ]}}
    )  # fmt: skip
    step = policy.output.steps[0]
    assert step.action is Action.REDACT
    assert step.rule.allowlist == ("acme.test",)  # type: ignore[attr-defined]
    assert policy.output.fail_fast


@pytest.mark.parametrize(
    ("guard", "message"),
    [
        ({"input": [{"rule": "nope"}]}, "unknown guard rule"),
        ({"input": [{"rule": "length", "max": 3}]}, "no option"),
        ({"input": [{"rule": "length", "action": "explode"}]}, "action must be"),
        ({"input": [{"rule": "prompt-leak"}]}, "cannot check input"),
        ({"inputs": []}, "unknown [guard] keys"),
        ({"stream_holdback": -1}, "stream_holdback must be"),
        ({"stream_holdback": True}, "stream_holdback must be"),
        ({"stream_holdback": "128"}, "stream_holdback must be"),
    ],
)
def test_bad_policies(guard: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("[", r"\[")):
        policy_from_mapping({"guard": guard})


def test_yaml_policy(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("guard:\n  input:\n    - rule: secrets\n      action: redact\n")
    assert load_policy(path).input.rule_names == ("secrets",)


def test_registry_names_are_unique_and_stable() -> None:
    assert list(RULES)[:3] == ["unicode", "encoding", "length"]
    assert len(set(RULES)) == len(RULES)


def test_stream_holdback_is_read_from_the_policy() -> None:
    assert policy_from_mapping({"guard": {}}).stream_holdback == 128
    assert policy_from_mapping({"guard": {"stream_holdback": 0}}).stream_holdback == 0
