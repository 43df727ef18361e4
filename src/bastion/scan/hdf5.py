"""HDF5 (legacy Keras ``.h5`` models, Keras 3 ``model.weights.h5``), read with h5py.

HDF5 is too rich a format to parse by hand safely, so this is the one scanner that uses
a library: h5py, only when installed (``pip install 'bastion-ml[h5]'``); without it the
file is an error, never clean. The HDF5 C library hangs or crashes on some corrupt files
(found by fuzzing), so h5py runs in a child process with a time and memory limit, reads
only the ``model_config`` / ``training_config`` attributes and prints them as JSON. The
Keras config they hold is then checked like a ``.keras`` file's; datasets are never read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from typing import ClassVar

from bastion.errors import ScanError
from bastion.models import Location
from bastion.scan._context import ScanContext
from bastion.scan._keras import check_config
from bastion.scan._seekable import Window, random_access
from bastion.scan._sniff import hdf5_head, hdf5_tail
from bastion.scan.base import ByteStream, SeekableStream

CONFIG_ATTRS = ("model_config", "training_config")
TIMEOUT = 30.0
MEMORY = 4 << 30
#: One thread for NumPy's BLAS in the child: its per-thread buffers count against MEMORY.
_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
_HINT = "Treat the file as unsafe: do not load it."
_READER = """
import json, sys
try:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))
except (ImportError, ValueError, OSError):
    pass
import h5py
out = {}
with h5py.File(sys.argv[1], "r") as h5:
    for name in sys.argv[3:]:
        if name in h5.attrs:
            value = h5.attrs[name]
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            out[name] = value if isinstance(value, str) else {"type": type(value).__name__}
sys.stdout.write(json.dumps(out))
"""


class Hdf5Scanner:
    name: ClassVar[str] = "hdf5"

    def sniff(self, head: bytes) -> bool:
        return hdf5_head(head)

    def sniff_tail(self, stream: SeekableStream) -> bool:
        return hdf5_tail(stream)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        from importlib.util import find_spec

        if find_spec("h5py") is None:
            raise ScanError(
                "HDF5 files are read with h5py, which is not installed",
                hint="pip install 'bastion-ml[h5]' and scan again; do not load it unscanned.",
            )
        if not location.members and os.path.isfile(location.path):
            configs = read_attributes(location.path)
        else:
            with random_access(stream, ctx.limits.max_member_size) as window:
                configs = _read_copy(window)
        for name, raw in configs.items():
            try:
                doc = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ScanError(f"HDF5 attribute {name} is not JSON: {exc}") from exc
            check_config(doc, location.child(f"<attr {name}>"), ctx)


def _read_copy(window: Window) -> dict[str, str]:
    with tempfile.NamedTemporaryFile(suffix=".h5") as copy:
        offset = 0
        while chunk := window.read_at(offset, 1 << 20):
            copy.write(chunk)
            offset += len(chunk)
        copy.flush()
        return read_attributes(copy.name)


def read_attributes(path: str, *, timeout: float = TIMEOUT) -> dict[str, str]:
    """The Keras config attributes of an HDF5 file, read by h5py in a child process."""
    try:
        proc = subprocess.run(
            [sys.executable, "-I", "-c", _READER, path, str(MEMORY), *CONFIG_ATTRS],
            capture_output=True,
            timeout=timeout,
            check=False,
            env={**os.environ, **_ENV},
        )
    except subprocess.TimeoutExpired:
        raise ScanError(
            f"the HDF5 reader did not finish in {timeout:g} s (a corrupt or hostile file)",
            hint=_HINT,
        ) from None
    if proc.returncode != 0:
        last = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["crashed"]
        raise ScanError(f"HDF5 file cannot be read: {last[0][:300]}", hint=_HINT)
    try:
        found = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise ScanError(f"the HDF5 reader gave no result: {exc}", hint=_HINT) from exc
    for name, value in found.items():
        if not isinstance(value, str):
            raise ScanError(f"HDF5 attribute {name} is not a string ({value})", hint=_HINT)
    return dict(found)
