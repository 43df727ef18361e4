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

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5
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
        pos = self.start
        while pos < self.end:
            tag, pos = self.varint(pos)
            number, wire = tag >> 3, tag & 7
            if number == 0:
                raise ScanError(f"protobuf field number 0 at byte {pos}")
            if wire == VARINT:
                value, pos = self.varint(pos)
                yield Field(number, wire, value, pos)
            elif wire in (FIXED64, FIXED32):
                width = 8 if wire == FIXED64 else 4
                self._need(pos, width)
                raw = self.source.get(pos, width)
                yield Field(number, wire, int.from_bytes(raw, "little"), pos)
                pos += width
            elif wire == LENGTH:
                length, pos = self.varint(pos)
                self._need(pos, length)
                yield Field(number, wire, length, pos)
                pos += length
            else:
                raise ScanError(f"protobuf wire type {wire} at byte {pos} is not supported")

    def _need(self, pos: int, length: int) -> None:
        if pos + length > self.end:
            raise ScanError(
                f"protobuf field at byte {pos} declares {length} bytes, past the end of its "
                f"message at byte {self.end} (truncated, or a size that lies)"
            )

    def varint(self, pos: int) -> tuple[int, int]:
        raw = self.source.get(pos, 10)
        value = 0
        for i, byte in enumerate(raw):
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if pos + i + 1 > self.end:
                    break
                return value, pos + i + 1
        raise ScanError(f"protobuf varint at byte {pos} is malformed or truncated")

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


def varint_at(head: bytes, pos: int) -> tuple[int, int] | None:
    """(value, position after it) of the varint at ``pos``; None when ``head`` ends first."""
    value = 0
    for i in range(10):
        if pos + i >= len(head):
            return None
        value |= (head[pos + i] & 0x7F) << (7 * i)
        if not head[pos + i] & 0x80:
            return value, pos + i + 1
    return None
