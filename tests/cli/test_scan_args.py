"""The click-free reader of ``bastion scan``'s arguments agrees with click wherever it
accepts a command line, and hands everything else to click."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.cli._scan_args import CONFIG_ENV, parse
from bastion.cli.main import cli
from bastion.cli.scan import scan


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("args")
    (root / "model.pkl").write_bytes(b"\x80\x04N.")
    (root / "extra.toml").write_text("version = 1\n")
    (root / "folder").mkdir()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(cwd)


def click_params(args: list[str], env: dict[str, str]) -> dict[str, Any] | None:
    """What click reads from ``bastion scan ARGS``, or None where it refuses them."""
    with mock.patch.dict(os.environ, env, clear=False):
        if CONFIG_ENV not in env:
            os.environ.pop(CONFIG_ENV, None)
        try:
            # Under the group, as the console runs it: the group's context settings
            # (``-h`` for help) reach the command.
            parent = cli.make_context("bastion", ["scan"])
            ctx = scan.make_context("scan", list(args), parent=parent)
        except click.exceptions.Exit:
            return None
        except click.UsageError:
            return None
    return dict(ctx.params)


def test_common_command_lines_are_read_without_click(place: Path) -> None:
    params = parse(
        ["model.pkl", "--format", "json", "-o", "out.json", "--fail-on", "HIGH", "folder"], {}
    )
    assert params == {
        "paths": (Path("model.pkl"), Path("folder")),
        "fmt": "json",
        "output": Path("out.json"),
        "fail_on": "high",
        "policies": (),
        "workers": None,
        "config": None,
        "sbom": None,
        "verbose": False,
        "progress": None,
    }
    params = parse(
        [
            "--policy=extra.toml",
            "--policy",
            "extra.toml",
            "-v",
            "--no-progress",
            "--workers=2",
            "x",
        ],
        {CONFIG_ENV: "extra.toml"},
    )
    assert params is not None
    assert params["policies"] == (Path("extra.toml"), Path("extra.toml"))
    assert (params["verbose"], params["progress"], params["workers"]) == (True, False, 2)
    assert params["config"] == Path("extra.toml")


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["-h", "model.pkl"],
        ["model.pkl", "--format", "xml"],
        ["model.pkl", "--format", "JSON"],
        ["model.pkl", "--fail-on", "severe"],
        ["model.pkl", "--workers", "-1"],
        ["model.pkl", "--workers", "two"],
        ["model.pkl", "--policy", "missing.toml"],
        ["model.pkl", "--policy", "folder"],
        ["model.pkl", "-o", "folder"],
        ["model.pkl", "-ofile"],
        ["model.pkl", "-vv"],
        ["model.pkl", "--verbose=yes"],
        ["model.pkl", "--formt", "json"],
        ["model.pkl", "--output"],
        ["--", "-model.pkl"],
    ],
)
def test_anything_unusual_goes_to_click(place: Path, args: list[str]) -> None:
    assert parse(args, {}) is None


def test_a_bad_config_in_the_environment_goes_to_click(place: Path) -> None:
    assert parse(["model.pkl"], {CONFIG_ENV: "missing.toml"}) is None
    assert parse(["model.pkl"], {CONFIG_ENV: ""}) is not None


PATHS = ["model.pkl", "folder", "missing.bin", "extra.toml", "-", ""]
VALUED = ["--format", "-o", "--output", "--fail-on", "--policy", "--workers", "--config", "--sbom"]
#: each option's values that both readers take, then ones some reader may refuse
GOOD = {
    "--format": ("text", "json", "sarif"),
    "--fail-on": ("medium", "LOW", "Critical", "info"),
    "--workers": ("0", "3", " 4", "1_0", "+2"),
    **dict.fromkeys(["-o", "--output", "--sbom"], ("out.json", "missing.bin", "model.pkl")),
    **dict.fromkeys(["--policy", "--config"], ("extra.toml", "model.pkl")),
}
BAD = ["JSON", "xml", "severe", "-2", "two", "", "-", "folder", "missing.toml", "2.0"]
FLAGS = ["-v", "--verbose", "--progress", "--no-progress"]
ODD = ["--", "-vo", "--help", "-h", "--fail", "-x", "--verbose=1", "--format=", "-oout.json"]


def _option(name: str, value: str, inline: bool) -> list[str]:
    return [f"{name}={value}"] if inline and name.startswith("--") else [name, value]


OPTION = st.sampled_from(VALUED).flatmap(
    lambda name: st.builds(_option, st.just(name), st.sampled_from(GOOD[name]), st.booleans())
)
ANY_VALUE = st.builds(
    _option,
    st.sampled_from(VALUED),
    st.sampled_from([*BAD, *(v for good in GOOD.values() for v in good)]),
    st.booleans(),
)
PATH = st.sampled_from(PATHS).map(lambda p: [p])
FLAG = st.sampled_from(FLAGS).map(lambda f: [f])
ODDITY = st.sampled_from([*ODD, *VALUED]).map(lambda t: [t])
#: weighted by repetition, so that enough command lines are ones the reader accepts
UNITS = st.one_of(OPTION, OPTION, OPTION, ANY_VALUE, PATH, PATH, FLAG, ODDITY)
COMMAND_LINES = st.lists(UNITS, max_size=6).map(lambda units: [t for u in units for t in u])


@settings(max_examples=1000, deadline=None)
@given(
    args=COMMAND_LINES,
    config_env=st.sampled_from([None, "", "extra.toml", "missing.toml", "folder"]),
)
def test_whatever_the_reader_accepts_click_reads_the_same(
    place: Path, args: list[str], config_env: str | None
) -> None:
    env = {} if config_env is None else {CONFIG_ENV: config_env}
    ours = parse(args, env)
    if ours is not None:
        assert click_params(args, env) == ours


ENTRY = (
    "import sys\n"
    "from bastion.cli.entry import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as exc:\n"
    "    print('exit', exc.code, 'click' in sys.modules, file=sys.stderr)\n"
)


def entry(*args: str) -> subprocess.CompletedProcess[str]:
    """The console script's ``main`` in a fresh interpreter; its last stderr line says
    the exit code and whether click was imported."""
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args], capture_output=True, text=True, check=False
    )


def test_a_small_scan_runs_without_click_and_help_still_works(tmp_path: Path) -> None:
    pkl = tmp_path / "small.pkl"
    pkl.write_bytes(b"\x80\x04N.")
    scan_run = entry("scan", str(pkl))
    assert "1 clean" in scan_run.stdout
    assert scan_run.stderr.strip().splitlines()[-1] == "exit 0 False"
    help_run = entry("scan", "--help")
    assert "Usage: bastion scan" in help_run.stdout
    assert help_run.stderr.strip().splitlines()[-1] == "exit 0 True"
    bad_run = entry("scan", str(pkl), "--format", "xml")
    assert "Invalid value for '--format'" in bad_run.stderr
    assert bad_run.stderr.strip().splitlines()[-1] == "exit 2 True"
    evil = tmp_path / "evil.bin"
    evil.write_bytes(b"cos\nsystem\n(S'true'\ntR.")
    findings = entry("scan", str(evil), "--format", "json")
    assert '"CRITICAL"' in findings.stdout.upper()
    assert findings.stderr.strip().splitlines()[-1] == "exit 1 False"
