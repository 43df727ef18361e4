"""GGUF (llama.cpp): a binary header, typed key-value metadata, tensor descriptors, data.

Nothing in a GGUF file is executed by the loader itself, but its chat template (Jinja,
``tokenizer.chat_template``) is rendered by the serving stack on every request: that is
where code hides. Counts and lengths are bounded before anything is allocated, and tensor
descriptors are checked against the file's size. Tensor data is never read.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import ClassVar

from bastion.errors import LimitExceeded, ScanError
from bastion.models import Location, Severity
from bastion.scan._context import ScanContext, is_seekable
from bastion.scan._sniff import GGUF_MAGIC as MAGIC
from bastion.scan._sniff import gguf_head
from bastion.scan._template import check_template
from bastion.scan.base import ByteStream

MAX_KV = 1 << 16
MAX_TENSORS = 1 << 20
MAX_STRING = 16 << 20
MAX_ARRAY = 1 << 25
MAX_DIMS = 4
MAX_NESTING = 3
#: Fixed-size metadata value types: type id -> struct code.
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9
#: ggml tensor types: id -> (elements per block, bytes per block).
GGML_BLOCKS = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34),
    9: (32, 40), 10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176),
    14: (256, 210), 15: (256, 292), 16: (256, 66), 17: (256, 74), 18: (256, 98),
    19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82), 23: (256, 136), 24: (1, 1),
    25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18),
}  # fmt: skip
TEMPLATE_KEY = "tokenizer.chat_template"


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    dims: tuple[int, ...]
    ggml_type: int
    offset: int


@dataclass(slots=True)
class GgufHeader:
    version: int
    #: Every string value in file order, repeated keys included (readers disagree on them).
    strings: list[tuple[str, str]] = field(default_factory=list)
    alignment: int = 32
    tensors: list[TensorInfo] = field(default_factory=list)
    data_start: int = 0


class _Reader:
    """Buffered, bounded reads from the start of a stream; ``offset`` is bytes consumed."""

    def __init__(self, stream: ByteStream, endian: str = "<") -> None:
        self._stream = stream
        self._buf = b""
        self._pos = 0
        self.offset = 0
        self.endian = endian

    def take(self, n: int) -> bytes:
        if len(self._buf) - self._pos < n:
            parts = [self._buf[self._pos :]]
            have = len(parts[0])
            while have < n:
                chunk = self._stream.read(max(1 << 16, n - have))
                if not chunk:
                    raise ScanError(f"GGUF file ends inside its header (at byte {self.offset})")
                parts.append(chunk)
                have += len(chunk)
            self._buf, self._pos = b"".join(parts), 0
        out = self._buf[self._pos : self._pos + n]
        self._pos += n
        self.offset += n
        return out

    def skip(self, n: int) -> None:
        """Consume ``n`` bytes without keeping them (large scalar arrays)."""
        while n > 0:
            step = min(n, 1 << 20)
            self.take(step)
            n -= step

    def unpack(self, code: str) -> int:
        value: int = struct.unpack(self.endian + code, self.take(struct.calcsize(code)))[0]
        return value

    def string(self, limit: int = MAX_STRING) -> bytes:
        length = self.unpack("Q")
        if length > limit:
            raise LimitExceeded(f"GGUF string of {length} bytes at byte {self.offset}")
        return self.take(length)

    def rest(self) -> int:
        """Bytes left after what was read, without keeping them."""
        total = len(self._buf) - self._pos
        while chunk := self._stream.read(1 << 20):
            total += len(chunk)
        return total


class GgufScanner:
    name: ClassVar[str] = "gguf"

    def sniff(self, head: bytes) -> bool:
        return gguf_head(head)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        size = _size(stream)
        reader = _Reader(stream)
        header = read_header(reader)
        for key, text in header.strings:
            if key == TEMPLATE_KEY or key.startswith(TEMPLATE_KEY + "."):
                check_template(text, key, location, ctx)
        total = size if size is not None else reader.offset + reader.rest()
        _check_tensors(header, total, location, ctx)


def _size(stream: ByteStream) -> int | None:
    if is_seekable(stream):
        start = stream.tell()
        end = stream.seek(0, 2)
        stream.seek(start)
        return end - start
    return None


def read_header(reader: _Reader) -> GgufHeader:
    """Parse magic, version, metadata and tensor descriptors; ScanError when malformed."""
    if reader.take(4) != MAGIC:
        raise ScanError("not a GGUF file")
    version = reader.unpack("I")
    if version > 0xFFFF and struct.unpack(">I", struct.pack("<I", version))[0] in (2, 3):
        reader.endian = ">"
        version = struct.unpack(">I", struct.pack("<I", version))[0]
    if version not in (2, 3):
        raise ScanError(
            f"GGUF version {version} is not supported", hint="Versions 2 and 3 are read."
        )
    n_tensors, n_kv = reader.unpack("Q"), reader.unpack("Q")
    if n_tensors > MAX_TENSORS or n_kv > MAX_KV:
        raise LimitExceeded(f"GGUF declares {n_tensors} tensors and {n_kv} metadata keys")
    header = GgufHeader(version)
    for _ in range(n_kv):
        key = _text(reader.string(1 << 16), "metadata key")
        value_type = reader.unpack("I")
        value = _value(reader, value_type, 0)
        if isinstance(value, str):
            header.strings.append((key, value))
        elif key == "general.alignment" and isinstance(value, int):
            if value <= 0 or value & (value - 1):
                raise ScanError(f"GGUF alignment {value} is not a power of two")
            header.alignment = value
    for _ in range(n_tensors):
        header.tensors.append(_tensor_info(reader))
    header.data_start = -(-reader.offset // header.alignment) * header.alignment
    return header


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScanError(f"GGUF {what} is not UTF-8") from exc


def _value(reader: _Reader, value_type: int, depth: int) -> object:
    code = _SCALARS.get(value_type)
    if code is not None:
        return reader.unpack(code)
    if value_type == _STRING:
        return reader.string().decode("utf-8", "replace")
    if value_type != _ARRAY:
        raise ScanError(f"GGUF metadata value type {value_type} is not known")
    if depth >= MAX_NESTING:
        raise LimitExceeded("GGUF arrays nested too deeply")
    item_type, count = reader.unpack("I"), reader.unpack("Q")
    if count > MAX_ARRAY:
        raise LimitExceeded(f"GGUF array of {count} elements")
    item = _SCALARS.get(item_type)
    if item is not None:
        reader.skip(struct.calcsize(item) * count)
        return None
    for _ in range(count):
        _value(reader, item_type, depth + 1)
    return None


def _tensor_info(reader: _Reader) -> TensorInfo:
    name = reader.string(1 << 16).decode("utf-8", "replace")
    n_dims = reader.unpack("I")
    if n_dims > MAX_DIMS:
        raise ScanError(f"GGUF tensor {name!r} has {n_dims} dimensions (at most {MAX_DIMS})")
    dims = tuple(reader.unpack("Q") for _ in range(n_dims))
    return TensorInfo(name, dims, reader.unpack("I"), reader.unpack("Q"))


def _check_tensors(header: GgufHeader, size: int, location: Location, ctx: ScanContext) -> None:
    data_len = size - header.data_start
    for info in header.tensors:
        nbytes = _nbytes(info)
        misaligned = info.offset % header.alignment
        end = info.offset + (nbytes or 0)
        if misaligned or end > data_len:
            why = "is not aligned" if misaligned else f"ends at {end} of {max(data_len, 0)} bytes"
            ctx.finding(
                "gguf.tensor-out-of-bounds",
                Severity.HIGH,
                f"tensor {info.name!r} {why}; loaders read memory outside the data",
                location,
                tensor=info.name,
            )


def _nbytes(info: TensorInfo) -> int | None:
    block = GGML_BLOCKS.get(info.ggml_type)
    if block is None:
        return None
    per_block, block_bytes = block
    count = math.prod(info.dims)
    return -(-count // per_block) * block_bytes
