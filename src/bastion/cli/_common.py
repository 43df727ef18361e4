"""What every command shares: the one place exceptions become exit codes."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from bastion.errors import BastionError

#: Documented in the README: 0 success, 1 findings/denied, 2 could not do the job.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


def fail(exc: BastionError) -> NoReturn:
    """Print the error and its hint, then exit with the error code."""
    click.echo(f"error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"hint: {exc.hint}", err=True)
    sys.exit(EXIT_ERROR)
