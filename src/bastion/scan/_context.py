"""The per-file scan context: sniffing, dispatch to format scanners, and collection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeGuard, cast, runtime_checkable

from bastion.config import ScanLimits
from bastion.errors import LimitExceeded, ScanError
from bastion.models import Details, Finding, Location, Severity
from bastion.scan._policy import Policy
from bastion.scan.base import ByteStream, ScanIssue, SeekableStream

HEAD = 4096


class HeadStream:
    """A read-only stream that replays ``head`` and then reads the rest of ``raw``."""

    def __init__(self, head: bytes, raw: ByteStream) -> None:
        self._head = head
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0:
                out = self._head + self._raw.read()
                self._head = b""
                return out
            out, self._head = self._head[:size], self._head[size:]
            if len(out) < size:
                out += self._raw.read(size - len(out))
            return out
        return self._raw.read(size)

    def readable(self) -> bool:
        return True


class Dispatch(Protocol):
    """What the context needs of a scanner: a :class:`FormatScanner`, or the registry's
    stand-in that imports one when content first sniffs as its format. A scanner may
    also have ``sniff_tail(stream) -> bool``, tried on seekable streams first."""

    @property
    def name(self) -> str: ...

    def sniff(self, head: bytes) -> bool: ...

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None: ...


class ScanContext:
    """Collects one file's findings, errors and formats while scanners run over it."""

    def __init__(self, policy: Policy, limits: ScanLimits, scanners: Sequence[Dispatch]) -> None:
        self.policy = policy
        self.limits = limits
        self.scanners = scanners
        self.findings: list[Finding] = []
        self.errors: list[ScanIssue] = []
        self.formats: list[str] = []
        self.skipped: str | None = None
        self.depth = 0
        self.members = 0
        self.expanded = 0  # bytes produced by decompression, across the whole file

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    def finding(
        self, rule: str, severity: Severity, message: str, location: Location, **details: object
    ) -> None:

        self.findings.append(Finding(rule, severity, message, location, Details(details)))

    def error(self, location: Location, exc: BaseException) -> None:
        hint = exc.hint if isinstance(exc, ScanError) else ScanError.hint
        self.errors.append(ScanIssue(location, str(exc) or type(exc).__name__, hint))

    def note_format(self, name: str) -> None:
        if name not in self.formats:
            self.formats.append(name)

    def count_expanded(self, size: int) -> None:
        self.expanded += size
        if self.expanded > self.limits.max_decompressed_total:
            raise LimitExceeded(
                f"archives in this file expand past {self.limits.max_decompressed_total} bytes"
            )

    def scan_stream(self, stream: ByteStream, location: Location, *, top: bool = False) -> None:
        """Sniff ``stream`` by content and hand it to the scanner that claims it.

        Content no scanner claims is classified for the report and searched for
        pickles hidden inside it. Scan errors are recorded, never raised.
        """
        if self.depth > self.limits.max_archive_depth:
            self.error(
                location,
                LimitExceeded(f"archives nested deeper than {self.limits.max_archive_depth}"),
            )
            return
        self.depth += 1
        try:
            seekable = stream if is_seekable(stream) else None
            start = seekable.tell() if seekable is not None else 0
            head = _read_head(stream)
            replay: ByteStream
            if seekable is not None:
                seekable.seek(start)
                replay = seekable
            else:
                replay = HeadStream(head, stream)
            if seekable is not None and not head.startswith(b"PK"):
                for scanner in self.scanners:
                    sniff_tail = getattr(scanner, "sniff_tail", None)
                    if sniff_tail is not None and sniff_tail(seekable):
                        seekable.seek(start)
                        self.note_format(scanner.name)
                        scanner.scan(seekable, location, self)
                        return
                seekable.seek(start)
            for scanner in self.scanners:
                if scanner.sniff(head):
                    self.note_format(scanner.name)
                    scanner.scan(replay, location, self)
                    return
            from bastion.scan import _unknown  # only for content no scanner claims

            reason = _unknown.scan_unknown(head, replay, location, self)
            if top and reason is not None:
                self.skipped = reason
        except ScanError as exc:
            self.error(location, exc)
        except (OSError, EOFError, ValueError, MemoryError, RecursionError) as exc:
            self.error(location, ScanError(f"{type(exc).__name__}: {exc}"))
        finally:
            self.depth -= 1


def _read_head(stream: ByteStream) -> bytes:
    parts: list[bytes] = []
    have = 0
    while have < HEAD:
        chunk = stream.read(HEAD - have)
        if not chunk:
            break
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts)


@runtime_checkable
class Seekable(SeekableStream, Protocol):
    pass


_SEEKABLE_API = ("read", "seek", "tell", "seekable")


def is_seekable(stream: ByteStream) -> TypeGuard[Seekable]:
    """True for streams that can seek (tar members in stream mode claim to, then fail).

    The methods are looked up as ``isinstance(stream, Seekable)`` would, without it: on
    Python 3.11 that check costs ~50 us, and it runs several times for every file.
    """
    if any(getattr(stream, name, None) is None for name in _SEEKABLE_API):
        return False
    try:
        return bool(cast("Seekable", stream).seekable())
    except (AttributeError, OSError, ValueError):
        return False
