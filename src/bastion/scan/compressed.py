"""Compressed single streams (gzip, bz2, xz/lzma, zlib): decompressed on the fly and
scanned as whatever they hold (tar.gz, compressed joblib files, gzipped pickles)."""

from __future__ import annotations

import re
from typing import ClassVar

from bastion.errors import LimitExceeded, ScanError
from bastion.models import Location
from bastion.scan._context import HeadStream, ScanContext
from bastion.scan._streams import Inflate
from bastion.scan.base import ByteStream

MIN_RATIO_CHECK = 64 << 20
_ZFILE = re.compile(rb"ZF0x[0-9a-fA-F]{1,17} *\x78")


def compression_of(head: bytes) -> str | None:
    """The compression format ``head`` starts with, if any."""
    if head.startswith(b"\x1f\x8b\x08"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit() and head[4:10] == b"1AY&SY":
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head[:1] == b"\x5d" and head[1:3] == b"\x00\x00" and len(head) >= 13:
        return "lzma"  # LZMA "alone" format, as joblib writes it
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    if head.startswith(b"\x04\x22\x4d\x18"):
        return "lz4"
    if _ZFILE.match(head):
        return "joblib-zfile"  # joblib < 0.10: "ZF", the length in hex padded, then zlib
    return None


class CompressedScanner:
    name: ClassVar[str] = "compressed"

    def sniff(self, head: bytes) -> bool:
        return compression_of(head) is not None

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        head = stream.read(64)
        method = compression_of(head)
        if method is None:  # pragma: no cover - sniff said otherwise
            raise ScanError("not a compressed stream")
        if method == "lz4":
            raise ScanError(
                "LZ4-compressed data cannot be inspected",
                hint="Decompress it with lz4 and scan the result.",
            )
        ctx.note_format(method)
        if method == "joblib-zfile":
            match = _ZFILE.match(head)
            assert match is not None
            head, method = head[match.end() - 1 :], "zlib"
        rest = HeadStream(head, stream)
        ratio = ctx.limits.max_compression_ratio
        inflate: Inflate

        def check(size: int) -> None:
            ctx.count_expanded(size)
            produced, consumed = inflate.produced, max(inflate.consumed, 1)
            if produced > MIN_RATIO_CHECK and produced > ratio * consumed:
                raise LimitExceeded(
                    f"{method} data expands more than {ratio:.0f} times: a decompression bomb"
                )

        inflate = Inflate(
            rest,
            method,
            limit=ctx.limits.max_member_size,
            on_output=check,
            multi_stream=method in ("gzip", "bz2", "xz", "lzma"),
        )
        ctx.scan_stream(inflate, location)
