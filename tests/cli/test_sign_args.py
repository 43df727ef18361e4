"""The click-free reader of ``bastion sign``/``verify``'s arguments agrees with click
wherever it accepts a command line, hands everything else to click, and the command
then says and exits exactly what the click command would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.cli._sign_args import parse_sign, parse_verify
from bastion.cli.main import cli
from bastion.cli.signing import sign, verify
from bastion.crypto import keys
from bastion.integrity import KeySigner, sign_model
from tests.integrity.conftest import make_model

PASSPHRASE = "not a real secret, only for this test"  # noqa: S105


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("sign-args")
    make_model(root / "model")
    (root / "weights.bin").write_bytes(b"\0" * 64)
    private = keys.generate()
    (root / "plain.key").write_bytes(keys.private_pem(private, passphrase=None))
    (root / "locked.key").write_bytes(keys.private_pem(private, passphrase=PASSPHRASE.encode()))
    (root / "me.pub").write_bytes(keys.public_pem(private))
    (root / "pass.txt").write_text(PASSPHRASE + "\n")
    (root / "empty.txt").write_text("")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        yield root
    finally:
        os.chdir(cwd)


def click_params(command: click.Command, name: str, args: list[str]) -> dict[str, Any] | None:
    """What click reads from ``bastion NAME ARGS``, or None where it refuses them."""
    try:
        parent = cli.make_context("bastion", [name])
        ctx = command.make_context(name, list(args), parent=parent)
    except (click.exceptions.Exit, click.UsageError):
        return None
    return dict(ctx.params)


def test_common_command_lines_are_read_without_click(place: Path) -> None:
    assert parse_verify(["model", "--key", "me.pub"]) == {
        "model_path": Path("model"),
        "key": Path("me.pub"),
        "cert_chain": (),
        "signature": None,
        "ignore_paths": (),
        "allow_symlinks": False,
        "workers": 0,
    }
    params = parse_sign(
        ["model", "--key=locked.key", "--hash", "blake3", "--passphrase-file", "pass.txt"], {}
    )
    assert params is not None
    assert params["passphrase"] == PASSPHRASE.encode()
    assert params["hash_type"] == "blake3"
    assert "passphrase_file" not in params
    from_env = parse_sign(["model", "--key", "locked.key"], {"BASTION_KEY_PASSPHRASE": "x"})
    assert from_env is not None
    assert from_env["passphrase"] == b"x"
    plain = parse_sign(["model", "--key", "plain.key", "--passphrase-file", "missing"], {})
    assert plain is None  # click checks that the file exists, even where it is not read
    plain = parse_sign(["model", "--key", "plain.key"], {"BASTION_KEY_PASSPHRASE": "x"})
    assert plain is not None
    assert plain["passphrase"] is None


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--help"],
        ["-h", "model"],
        ["model"],  # neither --key nor --cert-chain
        ["model", "--key", "me.pub", "--cert-chain", "me.pub"],
        ["model", "weights.bin", "--key", "me.pub"],
        ["missing", "--key", "me.pub"],
        ["model", "--key", "model"],
        ["model", "--key", "missing.pub"],
        ["model", "--key", "me.pub", "--workers", "-1"],
        ["model", "--key", "me.pub", "--signature", "model"],
        ["model", "--key", "me.pub", "--allow-symlinks=yes"],
        ["model", "--key", "me.pub", "--ignore-paths"],
        ["model", "--key", "me.pub", "--ignore-paths", "-x"],
        ["model", "--key", "me.pub", "--hash", "blake3"],  # a sign option
        ["--", "model", "--key", "me.pub"],
    ],
)
def test_anything_unusual_goes_to_click_for_verify(place: Path, args: list[str]) -> None:
    assert parse_verify(args) is None


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["model"], {}),
        (["model", "--key", "locked.key"], {}),  # click prompts or refuses
        (["model", "--key", "locked.key", "--passphrase-file", "empty.txt"], {}),
        (["model", "--key", "locked.key"], {"BASTION_KEY_PASSPHRASE": ""}),
        (["model", "--key", "plain.key", "--cert-chain", "me.pub"], {}),
        (["model", "--key", "plain.key", "--hash", "md5"], {}),
        (["model", "--key", "plain.key", "--hash", "SHA256"], {}),
        (["model", "--key", "plain.key", "--shard-size", "0"], {}),
        (["model", "--key", "plain.key", "--ignore-git-paths=no"], {}),
    ],
)
def test_anything_unusual_goes_to_click_for_sign(
    place: Path, args: list[str], env: dict[str, str]
) -> None:
    assert parse_sign(args, env) is None


PATHS = ["model", "weights.bin", "missing.bin", "me.pub", "-", ""]
VALUED = ["--key", "--cert", "--cert-chain", "--signature", "--hash", "--shard-size",
          "--ignore-paths", "--passphrase-file", "--workers"]  # fmt: skip
GOOD = {
    "--key": ("me.pub", "plain.key"),
    "--cert": ("me.pub",),
    "--cert-chain": ("me.pub", "weights.bin"),
    "--signature": ("out.sig", "missing.bin", "me.pub"),
    "--hash": ("sha256", "blake3"),
    "--shard-size": ("1", "1000", " 7", "1_0"),
    "--ignore-paths": ("a", "b/c", "", "model"),
    "--passphrase-file": ("pass.txt",),
    "--workers": ("0", "3", "+2"),
}
BAD = ["md5", "-2", "0", "two", "", "-", "model", "missing.pub", "2.0", "-x"]
FLAGS = ["--allow-symlinks", "--ignore-git-paths", "--no-ignore-git-paths"]
ODD = ["--", "--help", "-h", "--key=", "--allow-symlinks=1", "-k", "--sig"]


def _option(name: str, value: str, inline: bool) -> list[str]:
    return [f"{name}={value}"] if inline else [name, value]


OPTION = st.sampled_from(VALUED).flatmap(
    lambda name: st.builds(_option, st.just(name), st.sampled_from(GOOD[name]), st.booleans())
)
ANY_VALUE = st.builds(
    _option,
    st.sampled_from(VALUED),
    st.sampled_from([*BAD, *(v for good in GOOD.values() for v in good)]),
    st.booleans(),
)
KEY = st.sampled_from(["me.pub", "plain.key"]).map(lambda k: ["--key", k])
UNITS = st.one_of(
    KEY,
    OPTION,
    OPTION,
    ANY_VALUE,
    st.sampled_from(PATHS).map(lambda p: [p]),
    st.sampled_from(FLAGS).map(lambda f: [f]),
    st.sampled_from([*ODD, *VALUED]).map(lambda t: [t]),
)
COMMAND_LINES = st.lists(UNITS, max_size=6).map(lambda units: [t for u in units for t in u])


@settings(max_examples=600, deadline=None)
@given(args=COMMAND_LINES, model=st.sampled_from(["model", "weights.bin"]))
def test_whatever_the_verify_reader_accepts_click_reads_the_same(
    place: Path, args: list[str], model: str
) -> None:
    args = [model, *args]
    ours = parse_verify(args)
    if ours is not None:
        assert click_params(verify, "verify", args) == ours


@settings(max_examples=600, deadline=None)
@given(args=COMMAND_LINES, model=st.sampled_from(["model", "weights.bin"]))
def test_whatever_the_sign_reader_accepts_click_reads_the_same(
    place: Path, args: list[str], model: str
) -> None:
    args = [model, *args]
    ours = parse_sign(args, {})
    if ours is not None:
        theirs = click_params(sign, "sign", args)
        assert theirs is not None
        assert ours.pop("passphrase") is None  # only unencrypted keys here: none needed
        theirs.pop("passphrase_file")
        assert theirs == ours


RUN = (
    "import sys\n"
    "from bastion.cli.{module} import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as exc:\n"
    "    print('exit', exc.code, 'click' in sys.modules, file=sys.stderr)\n"
)


def bastion(module: str, *args: str | Path) -> tuple[int, str, str, bool]:
    """``bastion ARGS`` through ``bastion.cli.MODULE.main`` in a fresh interpreter:
    exit code, stdout, stderr (without the last line) and whether click was imported."""
    proc = subprocess.run(
        [sys.executable, "-c", RUN.format(module=module), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "BASTION_KEY_PASSPHRASE"},
    )
    *lines, last = proc.stderr.strip().splitlines() or [""]
    _, code, clicked = last.split()
    return int(code), proc.stdout, "\n".join(lines), clicked == "True"


def test_sign_and_verify_run_without_click_and_say_what_click_would(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    private = keys.generate()
    key = tmp_path / "me.key"
    key.write_bytes(keys.private_pem(private, passphrase=PASSPHRASE.encode()))
    pub = tmp_path / "me.pub"
    pub.write_bytes(keys.public_pem(private))
    secret = tmp_path / "pass.txt"
    secret.write_text(PASSPHRASE + "\n")
    code, out, err, clicked = bastion(
        "entry", "sign", model, "--key", key, "--passphrase-file", secret, "--hash", "blake3"
    )
    assert (code, clicked, err) == (0, False, "")
    assert out == f"signed {model} -> {model / 'model.sig'}\n"

    other = tmp_path / "other.pub"
    other.write_bytes(keys.public_pem(keys.generate()))
    cases: list[list[str | Path]] = [
        ["verify", model, "--key", pub],  # good
        ["verify", model, "--key", other],  # wrong key: 1
        ["verify", model, "--key", pub, "--signature", secret],  # not a bundle: 2
    ]
    for args in cases:
        fast = bastion("entry", *args)
        slow = bastion("main", *args)
        assert fast[3] is False
        assert slow[3] is True
        assert fast[:3] == slow[:3]
    assert bastion("entry", *cases[0])[0] == 0
    assert bastion("entry", *cases[1])[0] == 1
    assert bastion("entry", *cases[2])[0] == 2

    (model / "config.json").write_text("{}\n")
    (model / "new.bin").write_bytes(b"added")
    fast = bastion("entry", "verify", model, "--key", pub)
    assert fast == (*bastion("main", "verify", model, "--key", pub)[:3], False)
    assert fast[0] == 1
    assert "changed: config.json" in fast[1]
    assert "added: new.bin" in fast[1]


def test_the_library_signature_is_what_the_fast_path_checks(place: Path) -> None:
    # A bundle made by the library verifies through the click-free path of the console.
    signer = KeySigner.from_file(place / "plain.key", passphrase=None)
    sig = sign_model(place / "model", signer, signature_path=place / "lib.sig")
    code, out, _, clicked = bastion(
        "entry", "verify", place / "model", "--key", place / "me.pub", "--signature", sig
    )
    assert (code, clicked) == (0, False)
    assert out.startswith("verified:")
