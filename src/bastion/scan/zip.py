"""Zip archives: PyTorch checkpoints, NumPy .npz, and any zip holding model files.

Why not ``zipfile`` alone: it keeps the last of two members with the same name, never
compares a member's local header with the central directory, and gives no way to
see overlapping members. Loaders disagree on exactly these points, which is what
attackers use to show a scanner one file and a loader another. The structure is read
here by hand; member data is then streamed through ``zlib``/``bz2``/``lzma``.
"""

from __future__ import annotations

import itertools
import re
import stat
import struct
from dataclasses import dataclass
from typing import IO, ClassVar

from bastion.errors import LimitExceeded, ScanError
from bastion.models import Location, Severity
from bastion.scan._context import HeadStream, ScanContext, is_seekable
from bastion.scan._sniff import ZIP_CENTRAL as CENTRAL
from bastion.scan._sniff import ZIP_EOCD as EOCD
from bastion.scan._sniff import ZIP_LOCAL as LOCAL
from bastion.scan._sniff import zip_head, zip_tail
from bastion.scan._streams import Inflate, Slice
from bastion.scan.base import ByteStream, SeekableStream
from bastion.scan.pickle import strict_pickle_head

EOCD64_LOCATOR = b"PK\x06\x07"
METHODS = {0: "stored", 8: "deflate", 12: "bz2", 14: "zip-lzma"}
_STORAGE = re.compile(r"(?:^|.*/)data/[^/]+$")
SPOOL_LIMIT = 16 << 20


@dataclass(frozen=True, slots=True)
class Member:
    name: str
    flags: int
    method: int
    compressed: int
    size: int
    header_offset: int
    external_attr: int


class ZipScanner:
    name: ClassVar[str] = "zip"

    def sniff(self, head: bytes) -> bool:
        return zip_head(head)

    def sniff_tail(self, stream: SeekableStream) -> bool:
        return zip_tail(stream)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        if not is_seekable(stream):
            import tempfile

            with tempfile.SpooledTemporaryFile(max_size=SPOOL_LIMIT) as spool:
                _copy(stream, spool, ctx.limits.max_member_size)
                spool.seek(0)
                _scan_zip(spool, location, ctx)
            return
        _scan_zip(stream, location, ctx)


def _scan_zip(f: SeekableStream, location: Location, ctx: ScanContext) -> None:
    size = f.seek(0, 2)
    members, cd_start = _central_directory(f, size)
    if len(members) > ctx.limits.max_archive_members:
        raise LimitExceeded(f"zip has {len(members)} members, over the limit")
    ctx.members += len(members)
    names = {m.name for m in members}
    torch_prefixes = {n[: -len("data.pkl")] for n in names if n.endswith("data.pkl")}
    if torch_prefixes:
        ctx.note_format("pytorch")
    seen: dict[str, int] = {}
    spans: list[tuple[int, int, str]] = []
    first_finding = len(ctx.findings)
    for member in members:
        where = location.child(member.name)
        _check_name(member, where, ctx, seen)
        data_start = _local_header(f, member, where, ctx)
        spans.append((member.header_offset, data_start + member.compressed, member.name))
        if member.flags & 0x1:
            ctx.finding(
                "archive.encrypted-member",
                Severity.HIGH,
                f"member {member.name!r} is encrypted and cannot be inspected",
                where,
            )
            continue
        if member.external_attr >> 16 and stat.S_ISLNK(member.external_attr >> 16):
            ctx.finding(
                "archive.symlink",
                Severity.MEDIUM,
                f"member {member.name!r} is a symbolic link; extracting it can redirect writes",
                where,
            )
        if data_start + member.compressed > cd_start:
            raise ScanError(f"member {member.name!r} runs past the central directory")
        _scan_member(f, member, data_start, where, ctx, torch_prefixes)
    _check_overlaps(spans, location, ctx)
    from bastion.scan import torchscript

    torchscript.refine(names, first_finding, location, ctx)
    first = min((s for s, _, _ in spans), default=cd_start)
    if first > 0:
        ctx.finding(
            "archive.prefix-data",
            Severity.MEDIUM,
            f"{first} bytes precede the first zip member; a loader reading the file from "
            "its start sees them instead of the archive",
            location.at(0),
        )
        ctx.scan_stream(Slice(f, 0, first), location.child("<prefix>"))


def _central_directory(f: SeekableStream, size: int) -> tuple[list[Member], int]:
    tail_len = min(size, 65557 + 20)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    at = tail.rfind(EOCD)
    while at >= 0 and len(tail) - at < 22:
        at = tail.rfind(EOCD, 0, at)
    if at < 0:
        raise ScanError("zip has no end-of-central-directory record (truncated or not a zip)")
    (_, disk, cd_disk, n_disk, n_total, cd_size, cd_offset, _) = struct.unpack(
        "<4s4H2LH", tail[at : at + 22]
    )
    eocd_pos = size - tail_len + at
    if disk != 0 or cd_disk != 0 or n_disk != n_total:
        raise ScanError("multi-disk zip archives are not supported")
    # Like zipfile: a zip64 locator right before the end record means the zip64 end
    # record (56 bytes) precedes it, and it holds the real counts and offsets.
    zip64 = at >= 20 and tail[at - 20 : at - 16] == EOCD64_LOCATOR
    if zip64:
        n_total, cd_size, cd_offset = _zip64_eocd(f, eocd_pos - 76)
    # When data precedes the archive (self-extracting files, polyglots), the offsets
    # inside it are relative to where the archive starts; zipfile corrects for that.
    concat = eocd_pos - cd_size - cd_offset - (76 if zip64 else 0)
    if concat < 0 or cd_offset + cd_size + concat > eocd_pos:
        raise ScanError("zip central directory lies outside the file")
    cd_offset += concat
    f.seek(cd_offset)
    cd = f.read(cd_size)
    members: list[Member] = []
    pos = 0
    for _ in range(n_total):
        if cd[pos : pos + 4] != CENTRAL or pos + 46 > len(cd):
            raise ScanError("zip central directory is corrupt")
        fields = struct.unpack("<4s6H3L5H2L", cd[pos : pos + 46])
        flags, method = fields[3], fields[4]
        compressed, usize = fields[8], fields[9]
        name_len, extra_len, comment_len = fields[10], fields[11], fields[12]
        attr, offset = fields[15], fields[16]
        raw_name = cd[pos + 46 : pos + 46 + name_len]
        extra = cd[pos + 46 + name_len : pos + 46 + name_len + extra_len]
        usize, compressed, offset = _zip64_extra(extra, usize, compressed, offset)
        offset += concat
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        members.append(Member(name, flags, method, compressed, usize, offset, attr))
        pos += 46 + name_len + extra_len + comment_len
    return members, cd_offset


def _zip64_eocd(f: SeekableStream, record_pos: int) -> tuple[int, int, int]:
    if record_pos < 0:
        raise ScanError("zip64 end-of-central-directory record is missing")
    f.seek(record_pos)
    rec = f.read(56)
    if rec[:4] != b"PK\x06\x06" or len(rec) < 56:
        raise ScanError("zip64 end-of-central-directory record is missing")
    _, _, _, _, _, _, _, n_total, cd_size, cd_offset = struct.unpack("<4sQ2H2L4Q", rec)
    return n_total, cd_size, cd_offset


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack("<2H", extra[pos : pos + 4])
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 1:
            values = [int.from_bytes(body[i : i + 8], "little") for i in range(0, len(body) - 7, 8)]
            it = iter(values)
            if usize == 0xFFFFFFFF:
                usize = next(it, usize)
            if csize == 0xFFFFFFFF:
                csize = next(it, csize)
            if offset == 0xFFFFFFFF:
                offset = next(it, offset)
        pos += 4 + length
    return usize, csize, offset


def _local_header(f: SeekableStream, member: Member, where: Location, ctx: ScanContext) -> int:
    f.seek(member.header_offset)
    header = f.read(30)
    if len(header) < 30 or header[:4] != LOCAL:
        raise ScanError(f"member {member.name!r} has no local header where the directory says")
    name_len, extra_len = struct.unpack("<2H", header[26:30])
    local_name = f.read(name_len).decode("utf-8" if member.flags & 0x800 else "cp437", "replace")
    if local_name != member.name:
        ctx.finding(
            "archive.name-mismatch",
            Severity.HIGH,
            f"member is named {member.name!r} in the directory but {local_name!r} in its "
            "local header; tools that read one or the other see different files",
            where,
            local_name=local_name,
        )
    return int(member.header_offset + 30 + name_len + extra_len)


def _check_name(member: Member, where: Location, ctx: ScanContext, seen: dict[str, int]) -> None:
    name = member.name
    parts = re.split(r"[\\/]", name)
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        ctx.finding(
            "archive.path-traversal",
            Severity.HIGH,
            f"member name {name!r} escapes the extraction folder",
            where,
        )
    if "\x00" in name:
        ctx.finding("archive.bad-name", Severity.HIGH, "member name holds a NUL byte", where)
    seen[name] = seen.get(name, 0) + 1
    if seen[name] == 2:
        ctx.finding(
            "archive.duplicate-name",
            Severity.HIGH,
            f"two members are named {name!r}; loaders disagree on which one they read",
            where,
        )


def _check_overlaps(
    spans: list[tuple[int, int, str]], location: Location, ctx: ScanContext
) -> None:
    spans.sort()
    for (_, end, name), (start, _, other) in itertools.pairwise(spans):
        if start < end:
            ctx.finding(
                "archive.overlapping-members",
                Severity.HIGH,
                f"members {name!r} and {other!r} share bytes (a zip-bomb or polyglot trick)",
                location,
            )
            return


def _scan_member(
    f: SeekableStream,
    member: Member,
    data_start: int,
    where: Location,
    ctx: ScanContext,
    torch_prefixes: set[str],
) -> None:
    method = METHODS.get(member.method)
    if method is None:
        ctx.error(where, ScanError(f"compression method {member.method} is not supported"))
        return
    limits = ctx.limits
    if (
        method != "stored"
        and member.size > 64 << 20
        and member.size > limits.max_compression_ratio * max(member.compressed, 1)
    ):
        ctx.finding(
            "archive.bomb",
            Severity.HIGH,
            f"member {member.name!r} declares {member.size} bytes from {member.compressed}: "
            "a decompression bomb",
            where,
        )
        return
    raw = Slice(f, data_start, member.compressed)
    stream: ByteStream
    if method == "stored":
        stream = raw
    else:
        stream = Inflate(
            raw,
            method,
            limit=min(limits.max_member_size, max(member.size, 1) * 2 + (1 << 20)),
            on_output=ctx.count_expanded,
        )
    if _is_storage(member.name, torch_prefixes):
        head = stream.read(4096)
        if not strict_pickle_head(head):
            return  # tensor bytes: never parsed
        stream = HeadStream(head, stream)
    ctx.scan_stream(stream, where)


def _is_storage(name: str, torch_prefixes: set[str]) -> bool:
    return bool(_STORAGE.match(name)) and any(name.startswith(p) for p in torch_prefixes)


def _copy(src: ByteStream, dst: IO[bytes], limit: int) -> None:
    total = 0
    while chunk := src.read(1 << 20):
        total += len(chunk)
        if total > limit:
            raise LimitExceeded(f"nested archive larger than {limit} bytes")
        dst.write(chunk)
