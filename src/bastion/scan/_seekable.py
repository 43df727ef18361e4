"""Random access for format scanners that need it (headers that point into the file)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from bastion.errors import LimitExceeded
from bastion.scan._context import is_seekable
from bastion.scan.base import ByteStream, SeekableStream

SPOOL_LIMIT = 16 << 20


class Window:
    """A seekable stream seen from ``base``: offsets 0..size of the scanned content."""

    def __init__(self, raw: SeekableStream) -> None:
        self._raw = raw
        self.base = raw.tell()
        self.size = raw.seek(0, 2) - self.base
        raw.seek(self.base)

    def read_at(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer at the end of the content)."""
        if offset >= self.size or size <= 0:
            return b""
        self._raw.seek(self.base + offset)
        return self._raw.read(min(size, self.size - offset))

    @property
    def raw(self) -> SeekableStream:
        return self._raw


@contextmanager
def random_access(stream: ByteStream, limit: int) -> Iterator[Window]:
    """``stream`` as a :class:`Window`; streams that cannot seek are spooled first
    (to memory, then to a temporary file), up to ``limit`` bytes."""
    if is_seekable(stream):
        yield Window(stream)
        return
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_LIMIT) as spool:
        total = 0
        while chunk := stream.read(1 << 20):
            total += len(chunk)
            if total > limit:
                raise LimitExceeded(f"content larger than {limit} bytes")
            spool.write(chunk)
        spool.seek(0)
        yield Window(spool)


def read_bounded(stream: ByteStream, limit: int, what: str) -> bytes:
    """All of ``stream`` (however its reads split), or LimitExceeded past ``limit`` bytes."""
    parts: list[bytes] = []
    total = 0
    while total <= limit and (chunk := stream.read(limit + 1 - total)):
        parts.append(chunk)
        total += len(chunk)
    if total > limit:
        raise LimitExceeded(f"{what} larger than {limit} bytes")
    return b"".join(parts)
