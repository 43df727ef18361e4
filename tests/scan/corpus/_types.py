"""The shapes shared by the corpus builders and the tests that use them.

The corpus never imports Bastion: severities are names (``"critical"``) that the tests
parse, so a broken scanner import fails the tests, not the collection of the corpus.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

#: A loader that would run the payload, used only by the opt-in liveness test.
Loader = Literal["pickle", "torch", "numpy", "joblib", "zipfile", "tarfile"]
#: What a payload leaves behind if it runs: a file, a deleted folder, or a TCP connection.
TraceKind = Literal["file", "keep", "port"]


@dataclass(frozen=True, slots=True)
class Ctx:
    """Where a builder writes, and the traces its payload would leave if it ever ran."""

    dir: Path
    trace: Path
    env: str
    keep: Path
    port: int

    @property
    def shell(self) -> str:
        return f"touch {shlex.quote(str(self.trace))}"

    @property
    def argv(self) -> list[str]:
        return ["touch", str(self.trace)]

    @property
    def code(self) -> str:
        """Python statements that set the env var and create the trace file."""
        return (
            f"import os\nos.environ[{self.env!r}] = '1'\nopen({str(self.trace)!r}, 'w').close()\n"
        )

    @property
    def expr(self) -> str:
        """A Python expression with the same effect as :attr:`code`."""
        return (
            f"__import__('os').environ.__setitem__({self.env!r}, '1') "
            f"or open({str(self.trace)!r}, 'w').close()"
        )


@dataclass(frozen=True, slots=True)
class Live:
    """How to run a payload on purpose, to prove the corpus is live (opt-in, slow test)."""

    loader: Loader
    trace: TraceKind = "file"
    offset: int = 0
    env: tuple[tuple[str, str], ...] = ()
    extensions: tuple[tuple[str, str, int], ...] = ()
    pythonpath: str = ""
    #: for the pickle loader: read the file through gzip, bz2 or lzma first
    codec: str = ""


@dataclass(frozen=True, slots=True)
class Built:
    """A built file. ``members`` is the archive-member chain the report must name."""

    path: Path
    members: tuple[str, ...] = ()
    #: the malicious pickle starts at this offset of its innermost stream
    offset: int | None = None
    live: Live | None = None


@dataclass(frozen=True, slots=True)
class Expect:
    """What the scanner must say about a malicious file, beyond "not CLEAN".

    The file passes when any of these holds: every global in ``critical`` (``|`` separates
    accepted spellings) has a CRITICAL finding; a finding's rule starts with one of
    ``rules``; ``error_ok`` and the file's status is ERROR. With none of them set, a
    finding at ``min_severity`` or above is enough.
    """

    critical: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    error_ok: bool = False
    min_severity: str = "medium"


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    build: Callable[[Ctx], Built]
    expect: Expect = field(default_factory=Expect)
    doc: str = ""
    #: the built file names an archive member chain or a payload offset to check
    located: bool = False
