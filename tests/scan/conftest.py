"""Fixtures for the scanner suites: a trace context per test, checked after every scan."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .corpus._types import Ctx


class Traces:
    """The traces one test's payloads would leave, and the listener that catches connections."""

    def __init__(self, root: Path, case_id: str) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.setblocking(False)
        slug = "".join(ch if ch.isalnum() else "_" for ch in case_id).upper()
        build_dir = root / "build"
        build_dir.mkdir()
        keep = root / f"KEEP-{case_id}"
        keep.mkdir()
        (keep / "sentinel").write_text("must survive the scan")
        self.ctx = Ctx(
            dir=build_dir,
            trace=root / f"TRACE-{case_id}",
            env=f"BASTION_TRACE_{slug}",
            keep=keep,
            port=self.listener.getsockname()[1],
        )

    def left(self) -> list[str]:
        """Every trace that exists; empty when nothing ran."""
        c = self.ctx
        found = []
        if c.trace.exists():
            found.append(f"trace file {c.trace.name} was created")
        if c.env in os.environ:
            found.append(f"env var {c.env} was set")
        if c.env in sys.modules:
            found.append(f"sys.modules[{c.env!r}] was planted")
        if not (c.keep / "sentinel").exists():
            found.append(f"{c.keep.name} was deleted")
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            pass
        else:
            conn.close()
            found.append(f"something connected to port {c.port}")
        return found

    def close(self) -> None:
        self.listener.close()
        os.environ.pop(self.ctx.env, None)


@pytest.fixture
def traces(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Traces]:
    callspec = getattr(request.node, "callspec", None)
    case_id = str(callspec.id) if callspec is not None else request.node.name
    t = Traces(tmp_path, case_id.replace("/", "_")[:60])
    yield t
    t.close()
