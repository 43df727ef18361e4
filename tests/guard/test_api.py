"""The guard's public API is curated: this pins it, so changes are deliberate."""

from __future__ import annotations

import subprocess
import sys

import bastion.guard
import bastion.guard.proxy


def test_guard_exports() -> None:
    assert sorted(bastion.guard.__all__) == sorted(
        ["RULES", "Action", "Context", "Direction", "Guard", "Pipeline", "PlaceholderVault",
         "Policy", "Rule", "RuleResult", "ScanResult", "Span", "Step", "StreamGuard",
         "StreamUpdate", "Verdict", "load_policy", "make_canary", "policy_from_mapping"]
    )  # fmt: skip
    for name in bastion.guard.__all__:
        assert hasattr(bastion.guard, name)


def test_proxy_exports() -> None:
    assert sorted(bastion.guard.proxy.__all__) == [
        "ApiKey", "KeyStore", "MemoryRateLimiter", "ProxyConfig", "RedisRateLimiter",
        "create_app", "generate_key",
    ]  # fmt: skip


def test_every_rule_class_follows_the_protocol() -> None:
    for name, cls in bastion.guard.RULES.items():
        assert cls.name == name
        assert cls.directions
        assert callable(cls.check)


def test_cli_and_library_do_not_load_the_web_stack() -> None:
    code = (
        "import sys, bastion.cli.main, bastion.cli.guard, bastion.guard;"
        "mods = ('starlette', 'uvicorn', 'httpx', 'aiohttp', 'redis', 'torch');"
        "bad = [m for m in mods if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
