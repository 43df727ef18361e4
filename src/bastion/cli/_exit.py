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


def _err(line: str) -> None:
    # What click.echo(err=True) does for a str: the current stderr, a newline, a flush.
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def fail(exc: BastionError) -> NoReturn:
    """Print the error and its hint, then exit with the error code."""
    _err(f"error: {exc.message}")
    if exc.hint:
        _err(f"hint: {exc.hint}")
    sys.exit(EXIT_ERROR)


def fail_os(exc: OSError, doing: str = "") -> NoReturn:
    """Print a file-system error (``doing``: what was being done, e.g. "cannot write x")
    and exit with the error code."""
    reason = exc.strerror or str(exc)
    if doing:
        _err(f"error: {doing}: {reason}")
    else:
        _err(f"error: {reason}: {exc.filename or ''}")
    sys.exit(EXIT_ERROR)
