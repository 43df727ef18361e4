"""A small, bounded reader of the protobuf wire format (ONNX, TensorFlow SavedModel).

Only the wire format: varints, fixed 32/64-bit values and length-delimited fields. The
schema lives in the scanners, as field numbers. Lengths are checked against the enclosing
message before anything is read; large fields (tensor bytes) are skipped, never loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from bastion.errors import LimitExceeded, ScanError
from bastion.scan._seekable import Window
from bastion.scan._sniff import FIXED32, FIXED64, LENGTH, VARINT

MAX_DEPTH = 64
_CHUNK = 1 << 16


@dataclass(frozen=True, slots=True)
class Field:
    number: int
    wire: int
    value: int  # the varint or fixed value; for LENGTH fields, the payload's length
    start: int  # where the payload starts in the file


class Source:
    """Cached reads from a :class:`Window`, so small fields do not each cost a syscall."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.size = window.size
        self._at = 0
        self._cache = b""

    def get(self, offset: int, size: int) -> bytes:
        end = offset + size
        if not (self._at <= offset and end <= self._at + len(self._cache)):
            self._at = offset
            self._cache = self.window.read_at(offset, max(size, _CHUNK))
        return self._cache[offset - self._at : end - self._at]


class Message:
    """The fields of one message, lying in ``[start, end)`` of the source."""

    def __init__(self, source: Source, start: int, end: int, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            raise LimitExceeded(f"protobuf messages nested deeper than {MAX_DEPTH}")
        self.source = source
        self.start = start
        self.end = end
        self.depth = depth

    @classmethod
    def whole(cls, window: Window) -> Message:
        return cls(Source(window), 0, window.size)

    def __iter__(self) -> Iterator[Field]:
        pos, end, get = self.start, self.end, self.source.get
        while pos < end:
            head = get(pos, 20)  # a tag and a varint or fixed value fit in 20 bytes
            tag, used = _decode(head, 0, pos)
            number, wire = tag >> 3, tag & 7
            if number == 0:
                raise ScanError(f"protobuf field number 0 at byte {pos}")
            if wire == VARINT:
                value, used = _decode(head, used, pos)
                self._need(pos, used)
                yield Field(number, wire, value, pos + used)
                pos += used
            elif wire in (FIXED64, FIXED32):
                width = 8 if wire == FIXED64 else 4
                self._need(pos + used, width)
                raw = head[used : used + width]
                yield Field(number, wire, int.from_bytes(raw, "little"), pos + used)
                pos += used + width
            elif wire == LENGTH:
                length, used = _decode(head, used, pos)
                self._need(pos + used, length)
                yield Field(number, wire, length, pos + used)
                pos += used + length
            else:
                raise ScanError(f"protobuf wire type {wire} at byte {pos} is not supported")

    def _need(self, pos: int, length: int) -> None:
        if pos + length > self.end:
            raise ScanError(
                f"protobuf field at byte {pos} declares {length} bytes, past the end of its "
                f"message at byte {self.end} (truncated, or a size that lies)"
            )

    def varint(self, pos: int) -> tuple[int, int]:
        value, used = _decode(self.source.get(pos, 10), 0, pos)
        self._need(pos, used)
        return value, pos + used

    def sub(self, field: Field) -> Message:
        return Message(self.source, field.start, field.start + field.value, self.depth + 1)

    def text(self, field: Field, limit: int = 1 << 20) -> str:
        return self.raw(field, limit).decode("utf-8", "replace")

    def raw(self, field: Field, limit: int) -> bytes:
        if field.wire != LENGTH:
            raise ScanError(f"protobuf field {field.number} should be length-delimited")
        if field.value > limit:
            raise LimitExceeded(f"protobuf field of {field.value} bytes (limit {limit})")
        return self.source.get(field.start, field.value)

    def messages(self, number: int) -> Iterator[Message]:
        for field in self:
            if field.number == number and field.wire == LENGTH:
                yield self.sub(field)

    def last_string(self, number: int, default: str = "", limit: int = 4096) -> str:
        """A singular string field: like every protobuf parser, the last occurrence wins."""
        value = default
        for field in self:
            if field.number == number and field.wire == LENGTH:
                value = self.text(field, limit)
        return value

    def strings(self, number: int, limit: int = 1 << 20) -> Iterator[str]:
        for field in self:
            if field.number == number and field.wire == LENGTH:
                yield self.text(field, limit)


def packed_or_plain_ints(msg: Message, number: int, limit: int = 64) -> list[int]:
    """A repeated int64 field, packed or not (dims of a tensor)."""
    out: list[int] = []
    for field in msg:
        if field.number != number:
            continue
        if field.wire == VARINT:
            out.append(field.value)
        elif field.wire == LENGTH:
            pos, end = field.start, field.start + field.value
            while pos < end and len(out) <= limit:
                value, pos = msg.varint(pos)
                out.append(value)
        if len(out) > limit:
            raise LimitExceeded(f"more than {limit} values in a repeated field")
    return out


def _decode(buf: bytes, i: int, where: int) -> tuple[int, int]:
    """The varint at ``buf[i]`` and the index after it; ``where`` is for the message."""
    value, shift = 0, 0
    try:
        while True:
            byte = buf[i]
            i += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value, i
            shift += 7
            if shift > 63:
                break
    except IndexError:
        pass
    raise ScanError(f"protobuf varint near byte {where} is malformed or truncated")


# The wire types are defined beside the format sniffs, which need them without this module.
__all__ = [
    "FIXED32",
    "FIXED64",
    "LENGTH",
    "VARINT",
    "Field",
    "Message",
    "Source",
    "packed_or_plain_ints",
]
