"""The ordered list of format scanners. Order matters: the first whose sniff claims the
content scans it, so narrow magic numbers come before the broad pickle sniff.

Each built-in format is listed with its cheap sniff (from ``_sniff``) and the module and
class that scan it. A scanner's module is imported only when content first sniffs as its
format, so a scan of one pickle never loads the ONNX, GGUF or Keras code, and a short
run starts in a few milliseconds (scanners run in loops, hooks and CI jobs).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from bastion._plugins import discover
from bastion.scan import _sniff
from bastion.scan.base import ByteStream, FormatScanner, SeekableStream

if TYPE_CHECKING:
    from bastion.models import Location
    from bastion.scan._context import Dispatch, ScanContext


@dataclass(frozen=True, slots=True)
class Builtin:
    """A built-in format: how to recognise it, and where the class that scans it lives."""

    name: str
    sniff: Callable[[bytes], bool]
    module: str  # a module of bastion.scan
    cls: str
    sniff_tail: Callable[[SeekableStream], bool] | None = None


BUILTIN: tuple[Builtin, ...] = (
    Builtin("zip", _sniff.zip_head, "zip", "ZipScanner", _sniff.zip_tail),
    Builtin("tar", _sniff.tar_head, "tar", "TarScanner"),
    Builtin("numpy", _sniff.npy_head, "numpy", "NpyScanner"),
    Builtin("gguf", _sniff.gguf_head, "gguf", "GgufScanner"),
    Builtin("safetensors", _sniff.safetensors_head, "safetensors", "SafetensorsScanner"),
    Builtin("hdf5", _sniff.hdf5_head, "hdf5", "Hdf5Scanner", _sniff.hdf5_tail),
    Builtin("tf-savedmodel", _sniff.savedmodel_head, "savedmodel", "SavedModelScanner"),
    Builtin("onnx", _sniff.onnx_head, "onnx", "OnnxScanner", _sniff.onnx_tail),
    Builtin("compressed", _sniff.compressed_head, "compressed", "CompressedScanner"),
    Builtin("pickle", _sniff.pickle_head, "pickle", "PickleScanner"),
    # Broad, content-shaped sniffs last: only what no binary format claimed.
    Builtin("keras-metadata", _sniff.keras_metadata_head, "savedmodel", "KerasMetadataScanner"),
    Builtin("json", _sniff.json_head, "configs", "JsonScanner"),
    Builtin("jinja", _sniff.template_head, "configs", "TemplateScanner"),
    Builtin("python", _sniff.python_head, "python", "PythonScanner"),
)

ENTRY_POINT_GROUP = "bastion.scanners"


class LazyScanner:
    """Stands in for a built-in scanner: sniffs with the cheap test, and imports the
    scanner's module the first time content is handed to it."""

    def __init__(self, spec: Builtin) -> None:
        self.spec = spec
        self.name = spec.name
        self.sniff = spec.sniff
        self.sniff_tail = spec.sniff_tail
        self._scanner: FormatScanner | None = None

    def load(self) -> FormatScanner:
        if self._scanner is None:
            module = importlib.import_module(f"bastion.scan.{self.spec.module}")
            self._scanner = getattr(module, self.spec.cls)()
        return self._scanner

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        self.load().scan(stream, location, ctx)

    def __repr__(self) -> str:
        return f"LazyScanner(bastion.scan.{self.spec.module}.{self.spec.cls})"


@cache
def default_scanners(*, plugins: bool = False) -> tuple[Dispatch, ...]:
    """The built-in scanners, then, when asked for, those installed plugins register.

    Plugins are opt-in: a security scanner should not run code just because a package
    that declares an entry point happens to be installed (and looking entry points up
    costs ~150 ms in a large environment).
    """
    extra = discover(ENTRY_POINT_GROUP, object) if plugins else []
    found: list[Dispatch] = [cls() for cls in extra]  # type: ignore[misc]
    return (*(LazyScanner(spec) for spec in BUILTIN), *found)
