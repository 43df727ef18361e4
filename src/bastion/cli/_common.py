"""What every command shares: the one place exceptions become exit codes."""

from __future__ import annotations

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
