"""What every command shares: report options, passphrases, the audit actor, and the exit
codes and error exits of :mod:`bastion.cli._exit`."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bastion.cli._exit import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, fail, fail_os

__all__ = [
    "EXIT_ERROR",
    "EXIT_FINDINGS",
    "EXIT_OK",
    "fail",
    "fail_os",
    "operator_actor",
    "read_passphrase",
    "report_options",
]

F = TypeVar("F", bound=Callable[..., Any])


def report_options(func: F) -> F:
    """``--format text|json|sarif`` (as ``fmt``) and ``-o/--output``: the report options
    of every command that writes a findings report (``scan``, ``data scan``)."""
    func = click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the report to this file instead of standard output.",
    )(func)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json", "sarif"]),
        default="text",
        show_default=True,
        help="Report format.",
    )(func)


def operator_actor() -> str:
    """The audit actor for a command run on the server host: the local user's name."""
    import getpass

    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator:unknown"


def read_passphrase(path: Path | None, *, env: str, label: str, confirm: bool) -> bytes:
    """A passphrase from ``path``, then ``$env``, then a prompt on a terminal (asked twice
    with ``confirm``). Never echoed or logged; an empty one is refused."""
    if path is not None:
        try:
            secret = path.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise click.UsageError(f"cannot read passphrase file: {exc.strerror}") from None
    elif os.environ.get(env):
        secret = os.environ[env].encode("utf-8")
    elif sys.stdin.isatty():
        text = click.prompt(label, hide_input=True, confirmation_prompt=confirm, err=True)
        secret = str(text).encode("utf-8")
    else:
        raise click.UsageError(f"a passphrase is needed: use --passphrase-file or set {env}")
    if not secret:
        raise click.UsageError("the passphrase is empty")
    return secret
