"""The scanner's extension point and its result types.

A format scanner is a small class with a ``name``, a ``sniff`` that decides from
content alone whether it handles a stream, and a ``scan`` that reports into a
:class:`ScanContext`. Containers (zip, tar, npz, ...) hand their members back to
the context, which sniffs and dispatches them again, so nesting works for every
format without the formats knowing about each other.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Protocol

from bastion.models import Finding, Location, Severity

if TYPE_CHECKING:
    from bastion.scan._context import ScanContext

#: Version of the JSON report schema (``docs/scan-report.schema.json``).
REPORT_SCHEMA_VERSION = "1.0"


class ByteStream(Protocol):
    """What scanners read from: files, archive members, decompressed streams."""

    def read(self, size: int = -1, /) -> bytes: ...


class SeekableStream(ByteStream, Protocol):
    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def tell(self) -> int: ...
    def seekable(self) -> bool: ...


class Status(enum.StrEnum):
    """The outcome for one file. ``ERROR`` is never mistaken for ``CLEAN``."""

    CLEAN = "clean"
    FINDINGS = "findings"
    ERROR = "error"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class ScanIssue:
    """Something that stopped a file, or part of it, from being scanned to the end."""

    location: Location
    message: str
    hint: str = ""

    def to_dict(self) -> dict[str, object]:
        return {
            "path": self.location.path,
            "members": list(self.location.members),
            "offset": self.location.offset,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass(frozen=True, slots=True)
class FileResult:
    """Everything Bastion learnt about one file given on the command line or found in a folder."""

    path: str
    size: int
    formats: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    errors: tuple[ScanIssue, ...] = ()
    skipped: str | None = None
    seconds: float = 0.0

    @property
    def status(self) -> Status:
        if self.errors:
            return Status.ERROR
        if self.findings:
            return Status.FINDINGS
        if self.skipped is not None:
            return Status.SKIPPED
        return Status.CLEAN

    @property
    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)


@dataclass(frozen=True, slots=True)
class ScanReport:
    """The result of one scan over one or more paths."""

    files: tuple[FileResult, ...]
    seconds: float = 0.0
    policy_sources: tuple[str, ...] = field(default=())

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for r in self.files for f in r.findings)

    @property
    def errors(self) -> tuple[ScanIssue, ...]:
        return tuple(e for r in self.files for e in r.errors)

    @property
    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.files if r.status is status)

    def exit_code(self, fail_on: Severity = Severity.MEDIUM) -> int:
        """0 clean, 1 findings at or above ``fail_on``, 2 something could not be scanned."""
        if self.errors:
            return 2
        worst = self.max_severity
        if worst is not None and worst >= fail_on:
            return 1
        return 0


class FormatScanner(Protocol):
    """One model format. Implementations live one per module beside this file."""

    #: Short stable name shown in reports, e.g. ``"pickle"``, ``"zip"``.
    name: ClassVar[str]

    def sniff(self, head: bytes) -> bool:
        """True when ``head`` (the first bytes of the stream, up to 4 KiB) is this format."""
        ...

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        """Scan ``stream`` to its end, reporting findings and errors into ``ctx``.

        Raise :class:`bastion.errors.ScanError` when the content cannot be read to the
        end; the context records it against ``location``.
        """
        ...
