"""The extraction package's public names, and that policies load without NumPy."""

from __future__ import annotations

import subprocess
import sys

from bastion.guard import extraction


def test_exports() -> None:
    assert sorted(extraction.__all__) == [
        "Assessment",
        "Budgets",
        "ClientState",
        "DEFAULT_WEIGHTS",
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
    for name in extraction.__all__:
        assert getattr(extraction, name) is not None


def test_reading_a_policy_does_not_import_numpy() -> None:
    code = (
        "import sys; from bastion.guard import Guard; "
        "g = Guard.default(); g.check_input('hello'); "
        "assert g.policy.extraction.enabled; "
        "assert 'numpy' not in sys.modules, 'numpy was imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
