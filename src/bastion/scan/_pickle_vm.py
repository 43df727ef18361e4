"""Symbolic execution of a pickle opcode stream.

Nothing here unpickles, imports or calls what it reads. The machine keeps a stack of
*symbolic* values and reports, through a :class:`Sink`, every import (GLOBAL, INST,
STACK_GLOBAL, EXT*) and every call (REDUCE, INST, OBJ, NEWOBJ, NEWOBJ_EX, BUILD) the
stream would make, with the byte offset of the opcode.

Why hand-written: ``pickletools.genops`` decodes every argument into Python objects
and keeps no stack, and the peers that build real objects take gigabytes on large
pickles. Here values that cannot matter for security (numbers, bytes, containers) are
one shared ``None``; only short strings, imported globals and call results are kept,
and the memo keeps at most ``max_memo`` of them. Memory stays flat whatever the size
of the stream, which is read in chunks.

The hot loop is one long function on purpose: a dispatch table of small methods costs
a Python call per opcode, which doubles the time on pickles of millions of objects.
"""

from __future__ import annotations

import _compat_pickle
import codecs
from dataclasses import dataclass
from typing import IO, Protocol

from bastion.errors import LimitExceeded, ScanError
from bastion.scan.base import ByteStream

CHUNK = 1 << 20
MAX_LINE = 1 << 16  # a GLOBAL/INST/GET/PUT argument line longer than this is hostile
MAX_STR = 256  # strings longer than this are kept as LONG_STRING (never a module name)
SKIP_STRINGS_ABOVE = 1 << 16


class Truncated(ScanError):
    """The stream ended before the pickle's STOP opcode."""


class Malformed(ScanError):
    """The stream is not a valid pickle at some offset."""


@dataclass(frozen=True, slots=True)
class Global:
    """The value an import opcode pushes."""

    module: str
    name: str
    offset: int

    @property
    def path(self) -> str:
        return f"{self.module}.{self.name}"


class Called:
    """The value a call opcode pushes: the result of calling ``func`` with ``args``.

    ``state`` is what a later BUILD gave it. Both stay symbolic; they are kept so that
    reports can show the arguments and so joblib's array wrappers can be sized.
    """

    __slots__ = ("args", "func", "offset", "state")

    def __init__(self, func: object, offset: int, args: object = None) -> None:
        self.func = func
        self.offset = offset
        self.args = args
        self.state: object = None


class _Marker:
    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return self.label


#: A string too long to be a module or attribute name.
LONG_STRING = _Marker("<long string>")
#: An extension-registry object (EXT1/2/4): an import that cannot be resolved statically.
EXTENSION = _Marker("<extension>")
#: A persistent object returned by ``persistent_load``.
PERSISTENT = _Marker("<persistent>")
#: Bytes holding a pickle or a zip, scanned as a nested stream where they were read.
SCANNED_BLOB = _Marker("<scanned bytes>")


@dataclass(frozen=True, slots=True)
class Skip:
    """Raw bytes that follow a BUILD in the stream (joblib writes array data inline).

    ``size`` bytes are skipped after an optional alignment padding (one length byte,
    then that many pad bytes); ``nested_pickle`` means a pickle follows instead.
    """

    size: int = 0
    padded: bool = False
    nested_pickle: bool = False


class Sink(Protocol):
    """Receives what the machine finds. Implemented by the pickle scanner."""

    def on_import(self, value: Global, opcode: str) -> None: ...
    def on_call(self, func: object, offset: int, opcode: str, args: object) -> None: ...
    def on_unresolved_import(self, offset: int, reason: str) -> None: ...
    def on_build(self, target: object, state: object, offset: int) -> Skip | None:
        """A BUILD; may ask the machine to skip raw data that follows in the stream."""
        ...

    def on_extension(self, code: int, offset: int) -> None: ...
    def on_persistent_id(self, offset: int) -> None: ...
    def on_blob(
        self, reader: Reader, start: int, size: int, offset: int, *, latin1: bool = False
    ) -> int | None:
        """Bytes that look like a pickle or a zip: scan them, return the position after
        them; or return None to let the machine skip them as data. With ``latin1`` the
        bytes are UTF-8 text standing for latin-1 bytes (``_codecs.encode(s, "latin1")``
        is how protocol 2 writes bytes)."""
        ...


class Reader:
    """A forward-only chunked view of a binary stream with absolute offsets."""

    __slots__ = ("base", "buf", "eof", "pos", "stream")

    def __init__(self, stream: ByteStream, initial: bytes = b"") -> None:
        self.stream = stream
        self.buf = initial
        self.pos = 0
        self.base = 0
        self.eof = False

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def fill(self, pos: int, need: int) -> int:
        """Ensure ``need`` bytes from ``pos`` are buffered, if the stream has them.

        Returns the new position of ``pos`` in the (rebased) buffer.
        """
        if len(self.buf) - pos >= need or self.eof:
            return pos
        rest = self.buf[pos:]
        self.base += pos
        parts = [rest]
        have = len(rest)
        while have < need:
            chunk = self.stream.read(max(CHUNK, need - have))
            if not chunk:
                self.eof = True
                break
            parts.append(chunk)
            have += len(chunk)
        self.buf = b"".join(parts)
        return 0

    def skip(self, pos: int, count: int) -> int:
        """Skip ``count`` bytes from ``pos`` without keeping them; raise at a short stream.

        On a short stream the offsets are left as they were, so that the failing opcode's
        position (not the end of the data) is what callers see.
        """
        avail = len(self.buf) - pos
        if count <= avail:
            return pos + count
        if self.eof:
            raise Truncated(f"stream ends {count - avail} bytes inside a {count}-byte argument")
        left = count - avail
        new_base = self.base + len(self.buf)
        while left > 0:
            chunk = self.stream.read(min(CHUNK * 8, left))
            if not chunk:
                self.eof = True
                raise Truncated(f"stream ends {left} bytes inside a {count}-byte argument")
            left -= len(chunk)
            new_base += len(chunk)
        self.base = new_base
        self.buf = b""
        return 0

    def copy(self, pos: int, count: int, out: IO[bytes], *, latin1: bool = False) -> int:
        """Copy ``count`` bytes from ``pos`` into ``out``; return the position after them.

        With ``latin1`` the bytes are UTF-8 text and what is written is its latin-1
        encoding; a character above U+00FF raises ``Malformed``.
        """
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        while count > 0:
            pos = self.fill(pos, min(count, CHUNK))
            piece = self.buf[pos : pos + min(count, CHUNK)]
            if not piece:
                self.eof = True
                raise Truncated(f"stream ends {count} bytes inside a bytes argument")
            pos += len(piece)
            count -= len(piece)
            if latin1:
                try:
                    out.write(decoder.decode(piece, final=count == 0).encode("latin-1"))
                except (UnicodeDecodeError, UnicodeEncodeError) as exc:
                    raise Malformed(f"latin-1 bytes text is not what it claims: {exc}") from exc
            else:
                out.write(piece)
        return pos

    def at_end(self, pos: int) -> bool:
        return self.fill(pos, 1) >= len(self.buf)

    def line(self, pos: int, limit: int = MAX_LINE) -> tuple[bytes, int]:
        """The bytes up to the next newline (excluded) and the position after it."""
        nl = self.buf.find(b"\n", pos, pos + limit + 1)
        while nl < 0:
            if self.eof or len(self.buf) - pos > limit:
                if self.eof:
                    raise Truncated("stream ends inside a text argument")
                raise LimitExceeded(f"text argument longer than {limit} bytes")
            before = len(self.buf) - pos
            pos = self.fill(pos, before + CHUNK)
            nl = self.buf.find(b"\n", pos, pos + limit + 1)
        return self.buf[pos:nl], nl + 1


class Machine:
    """Runs one pickle (up to its STOP) at a time over a :class:`Reader`."""

    def __init__(
        self,
        reader: Reader,
        sink: Sink,
        *,
        max_stack: int = 1_000_000,
        max_memo: int = 200_000,
        lenient: bool = False,
    ) -> None:
        self.r = reader
        self.sink = sink
        self.max_stack = max_stack
        self.max_memo = max_memo
        self.lenient = lenient  # speculative runs: unknown memo/stack reads yield None
        self.protocol = 0
        self.progress = 0  # bytes parsed by the last run, set even when it fails
        self.memo_size = 0
        self.track_dicts = False  # set by the sink once a joblib array wrapper is imported


def decode_text(value: object) -> str | None:
    """The Python string of a symbolic text value, or None when it is not one."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return None
    return None


def fix_import(module: str, name: str, protocol: int) -> tuple[str, str]:
    """Apply the Python 2 -> 3 renames ``find_class`` applies for protocols below 3."""
    if protocol < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            return _compat_pickle.NAME_MAPPING[(module, name)]
        if module in _compat_pickle.IMPORT_MAPPING:
            return _compat_pickle.IMPORT_MAPPING[module], name
    return module, name


def decode_protocol0_string(raw: bytes) -> bytes:
    """The UTF-8 bytes of a STRING ('S') argument: a quoted Python 2 string literal."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[:1] in (b"'", b'"'):
        body = raw[1:-1]
        try:
            text: str = codecs.escape_decode(body)[0].decode("latin-1")
        except (ValueError, UnicodeDecodeError) as exc:
            raise Malformed(f"bad STRING argument: {exc}") from exc
        return text.encode("utf-8", "surrogatepass")
    raise Malformed("STRING argument is not quoted")
