"""Content no format scanner claims: say what it is, and look inside it for pickles."""

from __future__ import annotations

from bastion.models import Location
from bastion.scan._context import ScanContext
from bastion.scan._embedded import search_embedded
from bastion.scan._pickle_vm import Reader
from bastion.scan.base import ByteStream

#: Magic bytes of common files that are not model formats (or not yet scanned ones).
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"\xff\xd8\xff", "JPEG image"),
    (b"GIF87a", "GIF image"),
    (b"GIF89a", "GIF image"),
    (b"%PDF-", "PDF document"),
    (b"\x7fELF", "ELF executable"),
    (b"RIFF", "RIFF media file"),
    (b"\x00asm", "WebAssembly module"),
)


def classify(head: bytes) -> str:
    """A short human description of content that is not a model format we scan."""
    if not head:
        return "empty file"
    for magic, label in _MAGIC:
        if head.startswith(magic):
            return label
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut by the 4 KiB head
            return "binary data of no known model format"
        text = head[: exc.start].decode("utf-8")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return "JSON or other text (not a model format)"
    return "text (not a model format)"


def scan_unknown(head: bytes, stream: ByteStream, location: Location, ctx: ScanContext) -> str:
    """Search the whole stream for hidden pickles; return why it is otherwise skipped."""
    before = len(ctx.findings)
    search_embedded(Reader(stream), location, ctx)
    reason = classify(head)
    if len(ctx.findings) > before:
        ctx.note_format(f"{reason} with a hidden pickle")
    return reason
