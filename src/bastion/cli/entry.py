"""The ``bastion`` console script. A well-formed ``bastion scan``, ``sign`` or ``verify``
runs without importing click (see :mod:`bastion.cli._scan_args` and
:mod:`bastion.cli._sign_args`); everything else, help and usage errors included, goes to
the click group in :mod:`bastion.cli.main`."""

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
    elif args[:1] in (["sign"], ["verify"]):
        _sign_or_verify(args[0], args[1:], console=argv is None)
    from bastion.cli.main import main as click_main

    return click_main(argv)


def _sign_or_verify(command: str, args: list[str], *, console: bool) -> None:
    """Run ``bastion sign``/``verify`` without click when the reader accepts ``args``
    (it then exits); return to let click read them.

    As the console script (``console``), the process ends with ``os._exit`` once the
    command is done and its output flushed: the command has closed every file it wrote
    and starts no thread or child that outlives it, and tearing down the interpreter's
    modules (cryptography's among them) would add 10-20 ms to a verify that otherwise
    takes a third of a second. Called with ``argv`` (tests, embedding), it exits normally.
    """
    from bastion.cli import _sign_args, _sign_run

    if command == "sign":
        params = _sign_args.parse_sign(args, os.environ)
        if params is None:
            return
        run: Any = _sign_run.sign
    else:
        params = _sign_args.parse_verify(args)
        if params is None:
            return
        run = _sign_run.verify
    try:
        run(**params)
    except KeyboardInterrupt:
        sys.stderr.write("\nAborted!\n")  # as click reports an interrupted command
        sys.exit(1)
    except BrokenPipeError:
        # As for scan: the reader went away; exit 1 as click does, quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except SystemExit as done:
        if not console or not isinstance(done.code, int):
            raise
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:
            raise done from None  # let the interpreter report it as it would
        os._exit(done.code)
