"""The ordered list of format scanners. Order matters: the first whose ``sniff`` claims
the content scans it, so narrow magic numbers come before the broad pickle sniff."""

from __future__ import annotations

from functools import cache

from bastion._plugins import discover
from bastion.scan.base import FormatScanner
from bastion.scan.compressed import CompressedScanner
from bastion.scan.numpy import NpyScanner
from bastion.scan.pickle import PickleScanner
from bastion.scan.tar import TarScanner
from bastion.scan.zip import ZipScanner

BUILTIN: tuple[type[FormatScanner], ...] = (
    ZipScanner,
    TarScanner,
    NpyScanner,
    CompressedScanner,
    PickleScanner,
)

ENTRY_POINT_GROUP = "bastion.scanners"


@cache
def default_scanners() -> tuple[FormatScanner, ...]:
    """The built-in scanners, then any that installed plugins register."""
    plugins = discover(ENTRY_POINT_GROUP, object)
    return tuple(cls() for cls in (*BUILTIN, *plugins))  # type: ignore[misc]
