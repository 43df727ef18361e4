"""``bastion sign`` and ``bastion verify``'s arguments read without click, for
well-formed command lines only.

Why hand-written: click and the command modules cost a verify about 14 ms of start-up
before the first byte hashes (the median of 25 runs on a 1 MB model: 103 ms through
click, 89 ms without), on the one core that is not yet busy: against ``b3sum`` on a 2 GB
model (0.375 s against 0.304 s), a fifth of what separates the two. As for ``bastion
scan`` (see :mod:`bastion.cli._scan_args`), this reader accepts exactly the options that the click
commands in :mod:`bastion.cli.signing` define, with values click would accept, and
returns None for anything else (help, an unknown option, a bad value, a missing
required option, a passphrase that would need a prompt). Click then reads the command
line and stays the one place that prints help and usage errors. A property test checks
that whenever this reader accepts a command line, click reads the same values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bastion.cli._scan_args import _path, read_options

#: option spelling -> (parameter, kind) for each command; kinds are read by _convert.
_VERIFY: dict[str, tuple[str, str]] = {
    "--key": ("key", "file"),
    "--cert-chain": ("cert_chain", "files"),
    "--signature": ("signature", "out"),
    "--ignore-paths": ("ignore_paths", "strings"),
    "--allow-symlinks": ("allow_symlinks", "true"),
    "--workers": ("workers", "workers"),
}
_SIGN: dict[str, tuple[str, str]] = {
    "--key": ("key", "file"),
    "--cert": ("cert", "file"),
    "--cert-chain": ("cert_chain", "files"),
    "--signature": ("signature", "out"),
    "--hash": ("hash_type", "hash"),
    "--shard-size": ("shard_size", "positive"),
    "--ignore-paths": ("ignore_paths", "strings"),
    "--ignore-git-paths": ("ignore_git_paths", "true"),
    "--no-ignore-git-paths": ("ignore_git_paths", "false"),
    "--allow-symlinks": ("allow_symlinks", "true"),
    "--passphrase-file": ("passphrase_file", "file"),
    "--workers": ("workers", "workers"),
}
_VERIFY_DEFAULTS: dict[str, Any] = {
    "key": None,
    "cert_chain": (),
    "signature": None,
    "ignore_paths": (),
    "allow_symlinks": False,
    "workers": 0,
}
_SIGN_DEFAULTS: dict[str, Any] = {
    "key": None,
    "cert": None,
    "cert_chain": (),
    "signature": None,
    "hash_type": "sha256",
    "shard_size": None,
    "ignore_paths": (),
    "ignore_git_paths": True,
    "allow_symlinks": False,
    "passphrase_file": None,
    "workers": 0,
}
_HASHES = frozenset({"sha256", "blake3"})
#: Parameters given once per value (``--cert-chain A --cert-chain B``).
_REPEATABLE = frozenset({"cert_chain", "ignore_paths"})


def parse_verify(args: Sequence[str]) -> dict[str, Any] | None:
    """The keyword arguments of :func:`bastion.cli._sign_run.verify` for
    ``bastion verify ARGS``, or None where click must read ``args``."""
    params = _read(args, _VERIFY, _VERIFY_DEFAULTS)
    if params is None or (params["key"] is None) == (not params["cert_chain"]):
        return None  # click says "give exactly one of --key or --cert-chain"
    return params


def parse_sign(args: Sequence[str], environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The keyword arguments of :func:`bastion.cli._sign_run.sign` for ``bastion sign
    ARGS`` (the passphrase read as click's command would, never prompted for), or None
    where click must read ``args`` or ask for the passphrase."""
    from bastion.cli._sign_run import PASSPHRASE_ENV, key_is_encrypted

    params = _read(args, _SIGN, _SIGN_DEFAULTS)
    if params is None or params["key"] is None:
        return None
    if params["cert_chain"] and params["cert"] is None:
        return None  # a usage error
    passphrase_file = params.pop("passphrase_file")
    passphrase: bytes | None = None
    if key_is_encrypted(params["key"]):
        if passphrase_file is not None:
            try:
                passphrase = passphrase_file.read_bytes().rstrip(b"\r\n")
            except OSError:
                return None
        elif environ.get(PASSPHRASE_ENV):
            passphrase = environ[PASSPHRASE_ENV].encode("utf-8")
        if not passphrase:
            return None  # a prompt, or click's error for an empty passphrase
    params["passphrase"] = passphrase
    return params


def _read(
    args: Sequence[str], spec: Mapping[str, tuple[str, str]], defaults: Mapping[str, Any]
) -> dict[str, Any] | None:
    read = read_options(args, spec, _convert, repeatable=_REPEATABLE)
    if read is None:
        return None
    options, positional = read
    if len(positional) != 1:
        return None  # click: a missing argument, or "Got unexpected extra argument"
    model = _path(positional[0], exists=True, dir_okay=True)
    if model is None:
        return None
    params = {**defaults, **{k: tuple(v) if k in _REPEATABLE else v for k, v in options.items()}}
    params["model_path"] = model
    return params


def _convert(kind: str, value: str) -> Any:
    if kind in ("file", "files"):
        return _path(value, exists=True, dir_okay=False)
    if kind == "out":
        return _path(value, exists=False, dir_okay=False)
    if kind == "strings":
        return value
    if kind == "hash":
        return value if value in _HASHES else None
    try:
        number = int(value)
    except ValueError:
        return None
    minimum = 1 if kind == "positive" else 0
    return number if number >= minimum else None


__all__ = ["parse_sign", "parse_verify"]
