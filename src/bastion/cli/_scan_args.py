"""``bastion scan``'s arguments read without click, for well-formed command lines only.

Why hand-written: importing click costs a one-file scan about 50 M instructions (a fifth
of the process, about 20 ms), and scanners run in loops, hooks and CI jobs, once per file.
This reader accepts exactly the options that the click command in :mod:`bastion.cli.scan`
defines, with values click would accept, and returns None for anything else: ``--help``,
an unknown or misspelt option, a bad value, clustered short options (``-vo x``), ``--``, a
value that starts with a dash. The caller then hands the command line to click, so click
stays the one place that prints help and usage errors. A property test checks that
whenever this reader accepts a command line, click reads the same values from it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping, Sequence, Set
from pathlib import Path
from typing import Any

from bastion.models import Severity

#: option spelling -> (parameter, kind); kinds are read by :func:`parse`.
_OPTIONS: dict[str, tuple[str, str]] = {
    "--format": ("fmt", "format"),
    "-o": ("output", "out"),
    "--output": ("output", "out"),
    "--fail-on": ("fail_on", "severity"),
    "--policy": ("policies", "policy"),
    "--workers": ("workers", "workers"),
    "--config": ("config", "config"),
    "--sbom": ("sbom", "out"),
    "-v": ("verbose", "true"),
    "--verbose": ("verbose", "true"),
    "--progress": ("progress", "true"),
    "--no-progress": ("progress", "false"),
}
_FORMATS = frozenset({"text", "json", "sarif"})
CONFIG_ENV = "BASTION_CONFIG"


def parse(args: Sequence[str], environ: Mapping[str, str]) -> dict[str, Any] | None:
    """The keyword arguments of :func:`bastion.cli._scan_run.run` for ``bastion scan ARGS``,
    or None where click must read ``args`` (help, errors, uncommon spellings)."""
    params: dict[str, Any] = {
        "fmt": "text",
        "output": None,
        "fail_on": None,
        "workers": None,
        "config": None,
        "sbom": None,
        "verbose": False,
        "progress": None,
    }
    read = read_options(args, _OPTIONS, _convert, repeatable={"policies"})
    if read is None:
        return None
    options, positional = read
    policies = options.pop("policies", [])
    params.update(options)
    paths = [_path(arg, exists=False, dir_okay=True) for arg in positional]
    if not paths or None in paths:
        return None
    if params["config"] is None and environ.get(CONFIG_ENV):
        params["config"] = _convert("config", environ[CONFIG_ENV])
        if params["config"] is None:
            return None
    params["paths"] = tuple(paths)
    params["policies"] = tuple(policies)
    return params


def read_options(
    args: Sequence[str],
    spec: Mapping[str, tuple[str, str]],
    convert: Callable[[str, str], Any],
    *,
    repeatable: Set[str] = frozenset(),
) -> tuple[dict[str, Any], list[str]] | None:
    """The options of ``args`` as ``spec`` names them (spelling -> (parameter, kind);
    kinds ``true`` and ``false`` are flags, the others take a value that ``convert``
    checks), and the positional arguments; None for anything click must read: an
    unknown option, ``=`` after a short one or a flag, a missing value, a value that
    starts with a dash or that ``convert`` refuses. A ``repeatable`` parameter's values
    come as a list, in order; the others' last value wins, as in click."""
    options: dict[str, Any] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg[:1] != "-" or arg == "-":
            positional.append(arg)
            continue
        name, eq, inline = arg.partition("=")
        option = spec.get(name)
        if option is None or (eq and name[:2] != "--"):
            return None
        param, kind = option
        if kind in ("true", "false"):
            if eq:
                return None
            options[param] = kind == "true"
            continue
        if eq:
            value = inline
        elif i < len(args):
            value = args[i]
            i += 1
        else:
            return None
        if value[:1] == "-":
            return None
        converted = convert(kind, value)
        if converted is None:
            return None
        if param in repeatable:
            options.setdefault(param, []).append(converted)
        else:
            options[param] = converted
    return options, positional


def _convert(kind: str, value: str) -> Any:
    if kind == "format":
        return value if value in _FORMATS else None
    if kind == "severity":
        folded = value.casefold()
        return next((s.label for s in Severity if s.label.casefold() == folded), None)
    if kind == "workers":
        try:
            number = int(value)
        except ValueError:
            return None
        return number if number >= 0 else None
    if kind in ("policy", "config"):
        return _path(value, exists=True, dir_okay=False)
    return _path(value, exists=False, dir_okay=False)


def _path(value: str, *, exists: bool, dir_okay: bool) -> Path | None:
    """``click.Path(exists=..., dir_okay=..., path_type=Path)``'s checks (it also checks
    that an existing path is readable)."""
    try:
        mode = os.stat(value).st_mode
    except OSError:
        return None if exists else Path(value)
    except ValueError:  # a NUL byte in the name: let click say so
        return None
    if not dir_okay and stat.S_ISDIR(mode):
        return None
    if not os.access(value, os.R_OK):
        return None
    return Path(value)
