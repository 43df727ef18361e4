"""The README's promises: its two commands are what CI runs, its --help excerpt is real."""

from __future__ import annotations

import os
import re
from pathlib import Path

from click.testing import CliRunner

from bastion.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
UPDATE = os.environ.get("BASTION_UPDATE_GOLDEN") == "1"


def _commands() -> list[str]:
    text = README.read_text(encoding="utf-8")
    first_screen = text.split("\n---\n", 1)[0]
    return re.findall(r"```bash\n(.+?)\n```", first_screen)


def test_first_screen_has_the_two_commands() -> None:
    install_and_run, install_and_test = _commands()
    assert "pip install" in install_and_run
    assert "bastion up" in install_and_run
    assert "pytest" in install_and_test
    assert len(README.read_text(encoding="utf-8").split("\n---\n", 1)[0].splitlines()) <= 25


def test_ci_runs_the_readme_test_command() -> None:
    _, install_and_test = _commands()
    install, test = install_and_test.rsplit(" && ", 1)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert install in ci
    assert test in ci


def test_scan_help_excerpt_matches_the_cli() -> None:
    result = CliRunner().invoke(cli, ["scan", "--help"], prog_name="bastion", terminal_width=80)
    assert result.exit_code == 0
    text = README.read_text(encoding="utf-8")
    pattern = re.compile(
        r"(<!-- scan-help:start -->\n```text\n)(.*?)(```\n<!-- scan-help:end -->)", re.S
    )
    match = pattern.search(text)
    assert match is not None
    if UPDATE:
        updated = pattern.sub(lambda m: m[1] + result.output + m[3], text)
        README.write_text(updated, encoding="utf-8")
        return
    assert match[2] == result.output, "README help is stale: run with BASTION_UPDATE_GOLDEN=1"
