"""NumPy ``.npy`` files: the header is read as a literal; object arrays hold a pickle."""

from __future__ import annotations

import ast
import math
import re
from typing import ClassVar, cast

from bastion.errors import LimitExceeded, ScanError
from bastion.models import Location, Severity
from bastion.scan._context import ScanContext
from bastion.scan._embedded import search_embedded
from bastion.scan._pickle_vm import Reader
from bastion.scan._sniff import npy_head
from bastion.scan.base import ByteStream
from bastion.scan.pickle import scan_pickles

_TYPESTR = re.compile(r"[<>|=]?([a-zA-Z?])(\d*)(?:\[\w+\])?")
_UNIT = {"U": 4}


class NpyScanner:
    name: ClassVar[str] = "numpy"

    def sniff(self, head: bytes) -> bool:
        return npy_head(head)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        prefix = stream.read(10)
        if len(prefix) < 10:
            raise ScanError("npy header is truncated")
        major = prefix[6]
        if major == 1:
            header_len = int.from_bytes(prefix[8:10], "little")
            extra = b""
        elif major in (2, 3):
            extra = stream.read(2)
            header_len = int.from_bytes(prefix[8:10] + extra, "little")
        else:
            raise ScanError(f"npy format version {major} is not known")
        if header_len > ctx.limits.max_npy_header:
            raise LimitExceeded(f"npy header of {header_len} bytes")
        raw = stream.read(header_len)
        if len(raw) < header_len:
            raise ScanError("npy header is truncated")
        header = _parse_header(raw, major)
        descr = header["descr"]
        shape = cast(tuple[int, ...], header["shape"])
        if _has_object(descr):
            ctx.note_format("pickle")
            scan_pickles(stream, location, ctx)
            return
        itemsize = _itemsize(descr)
        if itemsize is None:
            raise ScanError(f"npy dtype {descr!r} is not understood")
        expected = math.prod(shape) * itemsize
        reader = Reader(stream)
        try:
            reader.pos = reader.skip(0, expected)
        except ScanError as exc:
            raise ScanError(f"npy data is shorter than its header declares: {exc}") from exc
        if not reader.at_end(reader.pos):
            ctx.finding(
                "numpy.trailing-data",
                Severity.MEDIUM,
                "data follows the array; it is searched for hidden pickles",
                location.at(10 + len(extra) + header_len + expected),
            )
            search_embedded(reader, location, ctx)


def _parse_header(raw: bytes, major: int) -> dict[str, object]:
    text = raw.decode("utf-8" if major >= 3 else "latin-1", "replace")
    try:
        header = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ScanError(f"npy header is not a literal dict: {exc}") from exc
    if not isinstance(header, dict) or {"descr", "shape"} - set(header):
        raise ScanError("npy header lacks 'descr' or 'shape'")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise ScanError(f"npy shape {shape!r} is not a tuple of sizes")
    return header


def _has_object(descr: object) -> bool:
    if isinstance(descr, str):
        return bool(_TYPESTR.fullmatch(descr)) and descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, list | tuple):
        return any(_has_object(d) for d in descr)
    return False


def _itemsize(descr: object) -> int | None:
    """Bytes per element of a descr: a type string or a list of (name, type[, shape])."""
    if isinstance(descr, str):
        match = _TYPESTR.fullmatch(descr)
        if match is None:
            return None
        kind, digits = match.groups()
        if kind in ("b", "?") and not digits:
            return 1
        return int(digits) * _UNIT.get(kind, 1) if digits else None
    if isinstance(descr, list):
        total = 0
        for field in descr:
            if not isinstance(field, tuple) or len(field) not in (2, 3):
                return None
            size = _itemsize(field[1])
            if size is None:
                return None
            count = math.prod(field[2]) if len(field) == 3 and isinstance(field[2], tuple) else 1
            total += size * count
        return total
    return None
