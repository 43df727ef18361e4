"""HDF5 (legacy Keras ``.h5`` models, Keras 3 ``model.weights.h5``), read with h5py.

HDF5 is too rich a format to parse by hand safely, so this is the one scanner that uses
a library: h5py, imported only here and only when installed (``pip install
'bastion-ml[h5]'``). Without it the file is an error, never clean. Only attributes are
read (``model_config``, ``training_config``): the Keras config they hold is checked like
a ``.keras`` file's; datasets (weights) are never read.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from bastion.errors import ScanError
from bastion.models import Location
from bastion.scan._context import ScanContext
from bastion.scan._keras import check_config
from bastion.scan._seekable import random_access
from bastion.scan._streams import Slice
from bastion.scan.base import ByteStream, SeekableStream

MAGIC = b"\x89HDF\r\n\x1a\n"
CONFIG_ATTRS = ("model_config", "training_config")
MAX_ATTR = 64 << 20


class Hdf5Scanner:
    name: ClassVar[str] = "hdf5"

    def sniff(self, head: bytes) -> bool:
        return any(head[at : at + 8] == MAGIC for at in (0, 512, 1024, 2048))

    def sniff_tail(self, stream: SeekableStream) -> bool:
        """HDF5 files may start with a user block of 512 * 2**k bytes: the library looks
        for the signature at each such offset, so a model can hide behind any prefix."""
        start = 0  # like zip's sniff_tail: the stream's own offsets (others move it)
        size = stream.seek(0, 2)
        at = 4096
        while at + 8 <= size:
            stream.seek(start + at)
            if stream.read(8) == MAGIC:
                return True
            at *= 2
        return False

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        try:
            import h5py
        except ImportError:
            raise ScanError(
                "HDF5 files are read with h5py, which is not installed",
                hint="pip install 'bastion-ml[h5]' and scan again; do not load it unscanned.",
            ) from None
        with random_access(stream, ctx.limits.max_member_size) as window:
            view = Slice(window.raw, window.base, window.size)
            try:
                with h5py.File(view, "r") as h5:
                    configs = {name: _attr(h5.attrs, name) for name in CONFIG_ATTRS}
            except (OSError, KeyError, RuntimeError) as exc:
                raise ScanError(f"HDF5 file cannot be read: {exc}") from exc
        for name, raw in configs.items():
            if raw is None:
                continue
            try:
                doc = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ScanError(f"HDF5 attribute {name} is not JSON: {exc}") from exc
            check_config(doc, location.child(f"<attr {name}>"), ctx)


def _attr(attrs: Any, name: str) -> str | None:
    if name not in attrs:
        return None
    value = attrs[name]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        raise ScanError(f"HDF5 attribute {name} is not a string")
    if len(value) > MAX_ATTR:
        raise ScanError(f"HDF5 attribute {name} is larger than {MAX_ATTR} bytes")
    return value
