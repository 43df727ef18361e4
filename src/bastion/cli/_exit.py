"""Exit codes and the one place exceptions become them, without click: ``bastion scan``
runs without importing click (see :mod:`bastion.cli._scan_args`), and its errors must
read the same as every other command's."""

from __future__ import annotations

import sys
from typing import NoReturn

from bastion.errors import BastionError

#: Documented in the README: 0 success, 1 findings/denied, 2 could not do the job.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


def echo(line: str, *, err: bool = False) -> None:
    """What ``click.echo`` does for a str: the current stdout (stderr with ``err``), a
    newline, a flush."""
    stream = sys.stderr if err else sys.stdout
    stream.write(line + "\n")
    stream.flush()


def fail(exc: BastionError) -> NoReturn:
    """Print the error and its hint, then exit with the error code."""
    echo(f"error: {exc.message}", err=True)
    if exc.hint:
        echo(f"hint: {exc.hint}", err=True)
    sys.exit(EXIT_ERROR)


def fail_os(exc: OSError, doing: str = "") -> NoReturn:
    """Print a file-system error (``doing``: what was being done, e.g. "cannot write x")
    and exit with the error code."""
    reason = exc.strerror or str(exc)
    if doing:
        echo(f"error: {doing}: {reason}", err=True)
    else:
        echo(f"error: {reason}: {exc.filename or ''}", err=True)
    sys.exit(EXIT_ERROR)
