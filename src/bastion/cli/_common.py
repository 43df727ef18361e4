"""What every command shares: the one place exceptions become exit codes."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from bastion.errors import BastionError

#: Documented in the README: 0 success, 1 findings/denied, 2 could not do the job.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2

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


def fail(exc: BastionError) -> NoReturn:
    """Print the error and its hint, then exit with the error code."""
    click.echo(f"error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)
    sys.exit(EXIT_ERROR)


def fail_os(exc: OSError, doing: str = "") -> NoReturn:
    """Print a file-system error (``doing``: what was being done, e.g. "cannot write x")
    and exit with the error code."""
    reason = exc.strerror or str(exc)
    if doing:
        click.echo(f"error: {doing}: {reason}", err=True)
    else:
        click.echo(f"error: {reason}: {exc.filename or ''}", err=True)
    sys.exit(EXIT_ERROR)


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
