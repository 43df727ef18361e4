"""The ordered list of format scanners. Order matters: the first whose ``sniff`` claims
the content scans it, so narrow magic numbers come before the broad pickle sniff."""

from __future__ import annotations

from functools import cache

from bastion._plugins import discover
from bastion.scan.base import FormatScanner
from bastion.scan.compressed import CompressedScanner
from bastion.scan.configs import JsonScanner, TemplateScanner
from bastion.scan.gguf import GgufScanner
from bastion.scan.hdf5 import Hdf5Scanner
from bastion.scan.numpy import NpyScanner
from bastion.scan.onnx import OnnxScanner
from bastion.scan.pickle import PickleScanner
from bastion.scan.python import PythonScanner
from bastion.scan.safetensors import SafetensorsScanner
from bastion.scan.savedmodel import KerasMetadataScanner, SavedModelScanner
from bastion.scan.tar import TarScanner
from bastion.scan.zip import ZipScanner

BUILTIN: tuple[type[FormatScanner], ...] = (
    ZipScanner,
    TarScanner,
    NpyScanner,
    GgufScanner,
    SafetensorsScanner,
    Hdf5Scanner,
    SavedModelScanner,
    OnnxScanner,
    CompressedScanner,
    PickleScanner,
    # Broad, content-shaped sniffs last: only what no binary format claimed.
    KerasMetadataScanner,
    JsonScanner,
    TemplateScanner,
    PythonScanner,
)

ENTRY_POINT_GROUP = "bastion.scanners"


@cache
def default_scanners(*, plugins: bool = False) -> tuple[FormatScanner, ...]:
    """The built-in scanners, then, when asked for, those installed plugins register.

    Plugins are opt-in: a security scanner should not run code just because a package
    that declares an entry point happens to be installed (and looking entry points up
    costs ~150 ms in a large environment).
    """
    extra = discover(ENTRY_POINT_GROUP, object) if plugins else []
    return tuple(cls() for cls in (*BUILTIN, *extra))  # type: ignore[misc]
