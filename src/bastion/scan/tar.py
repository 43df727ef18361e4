"""Tar archives (compressed ones arrive here already decompressed)."""

from __future__ import annotations

import posixpath
import tarfile
from typing import ClassVar

from bastion.errors import LimitExceeded, ScanError
from bastion.models import Location, Severity
from bastion.scan._context import ScanContext
from bastion.scan._sniff import tar_head
from bastion.scan.base import ByteStream

MAX_SINGLE_READ = 64 << 20


class TarScanner:
    name: ClassVar[str] = "tar"

    def sniff(self, head: bytes) -> bool:
        return tar_head(head)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        guarded = _BoundedReads(stream)
        try:
            with tarfile.open(fileobj=guarded, mode="r|") as archive:  # type: ignore[call-overload]
                for info in archive:
                    ctx.members += 1
                    if ctx.members > ctx.limits.max_archive_members:
                        raise LimitExceeded("tar has more members than the limit")
                    where = location.child(info.name)
                    _check_member(info, where, ctx)
                    if info.isfile():
                        member = archive.extractfile(info)
                        if member is not None:
                            ctx.scan_stream(member, where)
        except tarfile.ReadError as exc:
            raise ScanError(f"tar archive is corrupt or truncated: {exc}") from exc
        except (tarfile.TarError, EOFError, UnicodeDecodeError) as exc:
            raise ScanError(f"tar archive cannot be read: {exc}") from exc


def _check_member(info: tarfile.TarInfo, where: Location, ctx: ScanContext) -> None:
    name = info.name
    if name.startswith("/") or ".." in name.replace("\\", "/").split("/"):
        ctx.finding(
            "archive.path-traversal",
            Severity.HIGH,
            f"member name {name!r} escapes the extraction folder",
            where,
        )
    if info.issym() or info.islnk():
        target = info.linkname
        kind = "symbolic" if info.issym() else "hard"
        base = posixpath.dirname(name) if info.issym() else ""
        resolved = posixpath.normpath(posixpath.join(base, target))
        escapes = target.startswith("/") or resolved.startswith("..")
        ctx.finding(
            "archive.path-traversal" if escapes else "archive.link",
            Severity.HIGH if escapes else Severity.MEDIUM,
            f"member {name!r} is a {kind} link to {target!r}"
            + (", outside the extraction folder" if escapes else ""),
            where,
            target=target,
        )
    elif info.isdev() or info.isfifo():
        ctx.finding(
            "archive.special-file",
            Severity.MEDIUM,
            f"member {name!r} is a device or FIFO",
            where,
        )
    if info.mode & 0o6000:
        ctx.finding(
            "archive.setuid",
            Severity.MEDIUM,
            f"member {name!r} has the set-user-ID or set-group-ID bit",
            where,
        )


class _BoundedReads:
    """Refuses single reads larger than ``MAX_SINGLE_READ`` (tarfile reads whole PAX and
    GNU long-name headers at once, sized by the header itself)."""

    def __init__(self, raw: ByteStream) -> None:
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > MAX_SINGLE_READ:
            raise LimitExceeded(f"tar header asks for a {size}-byte read")
        return self._raw.read(size)
