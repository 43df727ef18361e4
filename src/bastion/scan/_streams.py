"""Bounded views of streams: a slice of a seekable file, and streaming decompression."""

from __future__ import annotations

import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import Protocol

from bastion.errors import LimitExceeded, ScanError
from bastion.scan.base import ByteStream, SeekableStream


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class Slice:
    """``length`` bytes of ``raw`` from ``start``, seekable, never reading past the end."""

    def __init__(self, raw: SeekableStream, start: int, length: int) -> None:
        self._raw = raw
        self._start = start
        self._length = length
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        left = self._length - self._pos
        if size < 0 or size > left:
            size = left
        if size <= 0:
            return b""
        self._raw.seek(self._start + self._pos)
        data = self._raw.read(size)
        self._pos += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True


class _ZipLzma:
    """LZMA as zip method 14 stores it: a 4-byte header and the filter properties,
    then a raw LZMA1 stream (what ``zipfile.LZMADecompressor`` does)."""

    def __init__(self) -> None:
        self._header = b""
        self._d: lzma.LZMADecompressor | None = None

    @property
    def eof(self) -> bool:
        return self._d is not None and self._d.eof

    @property
    def needs_input(self) -> bool:
        return self._d is None or self._d.needs_input

    @property
    def unused_data(self) -> bytes:
        return self._d.unused_data if self._d is not None else b""

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if self._d is None:
            self._header += data
            if len(self._header) < 4:
                return b""
            psize = int.from_bytes(self._header[2:4], "little")
            if len(self._header) < 4 + psize:
                return b""
            props = self._header[4 : 4 + psize]
            try:
                filt = lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)  # type: ignore[attr-defined]
            except lzma.LZMAError as exc:
                raise ScanError(f"corrupt zip LZMA header: {exc}") from exc
            self._d = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[filt])
            data = self._header[4 + psize :]
        return self._d.decompress(data, max_length)


def decompressor(method: str) -> _Decompressor:
    if method == "deflate":
        return zlib.decompressobj(-15)
    if method == "zlib":
        return zlib.decompressobj()
    if method == "gzip":
        return zlib.decompressobj(31)
    if method == "bz2":
        return bz2.BZ2Decompressor()
    if method in ("xz", "lzma"):
        return lzma.LZMADecompressor()
    if method == "zip-lzma":
        return _ZipLzma()
    raise ScanError(f"compression method {method!r} is not supported", hint="Decompress it first.")


class Inflate:
    """Streaming decompression with a bound on the output (bombs end in LimitExceeded).

    ``on_output`` is told of every chunk's size so a whole-file budget can be kept.
    """

    def __init__(
        self,
        raw: ByteStream,
        method: str,
        *,
        limit: int,
        on_output: Callable[[int], None] | None = None,
        multi_stream: bool = False,
    ) -> None:
        self._raw = raw
        self._method = method
        self._d = decompressor(method)
        self._limit = limit
        self._out = 0
        self._pending = b""
        self._on_output = on_output
        self._multi = multi_stream
        self.consumed = 0

    @property
    def produced(self) -> int:
        return self._out

    def read(self, size: int = -1) -> bytes:
        want = size if size >= 0 else 1 << 22
        parts: list[bytes] = []
        have = 0
        while have < want:
            if self._d.eof and not self._next_stream():
                break
            data = self._input()
            try:
                chunk = self._d.decompress(data, want - have)
            except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as exc:
                raise ScanError(f"corrupt {self._method} data: {exc}") from exc
            if chunk:
                parts.append(chunk)
                have += len(chunk)
                self._out += len(chunk)
                if self._on_output is not None:
                    self._on_output(len(chunk))
                if self._out > self._limit:
                    raise LimitExceeded(f"decompressed data exceeds {self._limit} bytes")
        return b"".join(parts)

    def _input(self) -> bytes:
        """The next bytes the decompressor needs (b"" when it still has buffered output)."""
        tail = getattr(self._d, "unconsumed_tail", None)
        if tail:
            return bytes(tail)
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        if getattr(self._d, "needs_input", True) is False:
            return b""
        data = self._raw.read(1 << 16)
        self.consumed += len(data)
        if not data:
            raise ScanError(f"{self._method} data ends before its end-of-stream marker")
        return data

    def _next_stream(self) -> bool:
        """At the end of one compressed stream: start the next one (gzip members)."""
        if not self._multi:
            return False
        rest = bytes(getattr(self._d, "unused_data", b"")) or self._raw.read(1 << 16)
        if not rest.strip(b"\x00"):
            return False
        self._d = decompressor(self._method)
        self._pending = rest
        return True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False
