"""Compressed single streams (gzip, bz2, xz/lzma, zlib): decompressed on the fly and
scanned as whatever they hold (tar.gz, compressed joblib files, gzipped pickles)."""

from __future__ import annotations

from typing import ClassVar

from bastion.errors import LimitExceeded, ScanError
from bastion.models import Location
from bastion.scan._context import HeadStream, ScanContext
from bastion.scan._sniff import compressed_head, compression_of, joblib_zfile
from bastion.scan._streams import Inflate
from bastion.scan.base import ByteStream

MIN_RATIO_CHECK = 64 << 20


class CompressedScanner:
    name: ClassVar[str] = "compressed"

    def sniff(self, head: bytes) -> bool:
        return compressed_head(head)

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
            match = joblib_zfile().match(head)
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
