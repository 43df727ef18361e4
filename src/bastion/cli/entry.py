"""The ``bastion`` console script. A well-formed ``bastion scan`` runs without importing
click (see :mod:`bastion.cli._scan_args`); everything else, help and usage errors
included, goes to the click group in :mod:`bastion.cli.main`."""

from __future__ import annotations

import os
import sys
from typing import Any


def main(argv: list[str] | None = None) -> Any:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["scan"]:
        from bastion.cli._scan_args import parse

        params = parse(args[1:], os.environ)
        if params is not None:
            from bastion.cli._scan_run import run

            try:
                run(**params)
            except KeyboardInterrupt:
                # As click reports an interrupted command.
                sys.stderr.write("\nAborted!\n")
                sys.exit(1)
            except BrokenPipeError:
                # The reader of the report went away (``| head``): exit 1 as click does,
                # and point stdout at /dev/null so the interpreter's final flush is quiet.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                sys.exit(1)
    from bastion.cli.main import main as click_main

    return click_main(argv)
