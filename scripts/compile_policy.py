"""Regenerate ``src/bastion/scan/data/policy.json`` from ``policy.toml``.

People edit the TOML. The scanner reads the JSON copy: ``json`` parses it in a fraction
of a millisecond with the C parser, where importing ``tomllib`` and parsing the TOML
costs several milliseconds of every ``bastion scan`` that meets a pickle (scans run
in loops, hooks and CI jobs). A test fails when the two disagree:

    python scripts/compile_policy.py
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "src/bastion/scan/data"
NOTE = "Generated from policy.toml by scripts/compile_policy.py: edit that file, not this one."


def compiled() -> str:
    doc = tomllib.loads((DATA / "policy.toml").read_text(encoding="utf-8"))
    return json.dumps({"comment": NOTE, **doc}, indent=1, ensure_ascii=False) + "\n"


def main() -> None:
    (DATA / "policy.json").write_text(compiled(), encoding="utf-8")


if __name__ == "__main__":
    main()
