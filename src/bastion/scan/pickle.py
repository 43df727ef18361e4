"""Pickle streams: plain pickles, several pickles in a row, and pickles after other data."""

from __future__ import annotations

from typing import ClassVar

from bastion.errors import ScanError
from bastion.models import Location
from bastion.scan._context import ScanContext
from bastion.scan._pickle_loop import run_one
from bastion.scan._pickle_sink import PickleSink
from bastion.scan._pickle_vm import Global, Machine, Reader, Skip, Truncated
from bastion.scan._sniff import PICKLE_STARTS as _STARTS
from bastion.scan.base import ByteStream


class PickleScanner:
    """Every opcode of protocols 0-5, executed symbolically; never unpickled."""

    name: ClassVar[str] = "pickle"

    def sniff(self, head: bytes) -> bool:
        return looks_like_pickle(head)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        scan_pickles(stream, location, ctx)


def looks_like_pickle(head: bytes) -> bool:
    """True when ``head`` starts a pickle: PROTO 2-5, or a strict parse of protocol 0/1
    that reaches STOP, runs out of bytes after a good start, or imports something before
    it breaks (a broken pickle that imports still claims to be one: an error, not a skip).
    """
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return True
    if not head or head[0] not in _STARTS:
        return False
    import io

    sink = _NullSink()
    machine = Machine(Reader(io.BytesIO(head)), sink)
    try:
        run_one(machine)
    except Truncated:
        return machine.progress >= min(64, len(head) - 8)
    except ScanError:
        # A broken pickle that imports is still a pickle (an error, never a skip): after
        # 32 bytes of good parse, or when the head is not text (binary opcodes), or when
        # what it imports is denied outright. Only a short text file whose first lines
        # merely look like ``GLOBAL module name`` of something harmless is left as text.
        if not sink.imports:
            return False
        return machine.progress >= 32 or not _is_text(head) or _imports_denied(sink.globals)
    return True


def _is_text(head: bytes) -> bool:
    """UTF-8 text (a character cut at the end of the head allowed), no control bytes."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return False
        text = head[: exc.start].decode("utf-8")
    return all(ch.isprintable() or ch in "\t\n\r\f" for ch in text)


def _imports_denied(imported: list[tuple[str, str]]) -> bool:
    from bastion.scan._policy import Policy

    policy = Policy.load()
    return any(policy.decide(module, name).severity is not None for module, name in imported)


def strict_pickle_head(head: bytes, min_bytes: int = 256) -> bool:
    """True when ``head`` parses strictly as a pickle: to its STOP, or through at least
    ``min_bytes`` before the head runs out. Used where data is expected (tensor
    storages), so that random bytes that start like a pickle are not mistaken for one:
    a short storage that parses to its end without a STOP is data."""
    import io

    if not head or (head[0] not in _STARTS and head[0] != 0x80):
        return False
    machine = Machine(Reader(io.BytesIO(head)), _NullSink())
    try:
        run_one(machine)
    except Truncated:
        return machine.progress >= min_bytes
    except ScanError:
        return False
    return True


def scan_pickles(stream: ByteStream, location: Location, ctx: ScanContext) -> None:
    """Scan every pickle in ``stream`` to its end, then search what follows for more.

    The first pickle must parse to its STOP, or the stream is an error (never clean).
    Data after the last pickle that does not parse (legacy PyTorch storages, joblib
    arrays, junk) is searched for further pickles by the embedded-pickle search.
    """
    from bastion.scan._embedded import search_embedded

    reader = Reader(stream)
    count = 0
    while not reader.at_end(reader.pos):
        start, start_base, start_pos = reader.offset, reader.base, reader.pos
        sink = PickleSink(ctx.policy, location, ctx=ctx)
        machine = Machine(
            reader,
            sink,
            max_stack=ctx.limits.max_pickle_stack,
            max_memo=ctx.limits.max_memo_entries,
        )
        sink.machine = machine
        try:
            run_one(machine)
        except ScanError as exc:
            if count == 0:
                _flush(ctx, sink)
                raise ScanError(f"pickle at offset {start}: {exc}") from exc
            # Trailing data that is not a (complete) pickle: report what it would
            # import, then search the rest for hidden pickles.
            for finding in sink.flush():
                if finding.rule in _IMPORT_RULES:
                    ctx.add(finding)
            if reader.base == start_base:
                reader.pos = start_pos
            search_embedded(reader, location, ctx)
            break
        _flush(ctx, sink)
        count += 1
    if count > 1:
        ctx.note_format(f"{count} pickles")


_IMPORT_RULES = frozenset(
    {"pickle.dangerous-global", "pickle.unknown-global", "pickle.attribute-traversal"}
)


def _flush(ctx: ScanContext, sink: PickleSink) -> None:
    for finding in sink.flush():
        ctx.add(finding)


class _NullSink:
    """A sink for sniffing: it only counts imports."""

    def __init__(self) -> None:
        self.imports = 0
        self.globals: list[tuple[str, str]] = []  # the first few, for the policy

    def on_import(self, value: object, opcode: str) -> None:
        self.imports += 1
        if isinstance(value, Global) and len(self.globals) < 8:
            self.globals.append((value.module, value.name))

    def on_call(self, func: object, offset: int, opcode: str, args: object) -> None:
        pass

    def on_unresolved_import(self, offset: int, reason: str) -> None:
        pass

    def on_build(self, target: object, state: object, offset: int) -> Skip | None:
        return None

    def on_extension(self, code: int, offset: int) -> None:
        pass

    def on_persistent_id(self, offset: int) -> None:
        pass

    def on_blob(
        self, reader: Reader, start: int, size: int, offset: int, *, latin1: bool = False
    ) -> int | None:
        return None


__all__ = ["PickleScanner", "looks_like_pickle", "scan_pickles", "strict_pickle_head"]
