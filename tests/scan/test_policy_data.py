"""The shipped policy's JSON copy (what the scanner reads) says what the TOML says."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path

from bastion.scan._policy import DATA, Policy

ROOT = Path(__file__).resolve().parents[2]


def test_policy_json_is_the_compiled_toml() -> None:
    toml = tomllib.loads((DATA / "policy.toml").read_text(encoding="utf-8"))
    compiled = json.loads((DATA / "policy.json").read_text(encoding="utf-8"))
    compiled.pop("comment")
    assert compiled == toml, "policy.toml changed: run python scripts/compile_policy.py"


def test_compile_script_writes_what_is_shipped() -> None:
    script = ROOT / "scripts" / "compile_policy.py"
    spec = importlib.util.spec_from_file_location("compile_policy", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.compiled() == (DATA / "policy.json").read_text(encoding="utf-8")


def test_default_policy_decides_from_the_shipped_data() -> None:
    policy = Policy.load()
    assert policy.decide("collections", "OrderedDict").allowed
    denied = policy.decide("os", "system")
    assert not denied.allowed
    assert denied.severity is not None
