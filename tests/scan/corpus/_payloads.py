"""Shared pieces of the malicious corpus: a registry, the common payloads, file writers."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import _asm as a
from ._types import Built, Case, Ctx, Expect, Live

Builder = Callable[[Ctx], Built]
PICKLE_LIVE = Live("pickle")


class Registry:
    """An ordered list of cases, filled by the ``case`` decorator."""

    def __init__(self) -> None:
        self.cases: list[Case] = []

    def case(
        self,
        case_id: str,
        *,
        critical: tuple[str, ...] = (),
        rules: tuple[str, ...] = (),
        error_ok: bool = False,
        min_severity: str = "medium",
        located: bool = False,
    ) -> Callable[[Builder], Builder]:
        def register(build: Builder) -> Builder:
            expect = Expect(critical, rules, error_ok, min_severity)
            doc = (build.__doc__ or "").strip()
            self.cases.append(Case(case_id, build, expect, doc, located))
            return build

        return register


class Reduce:
    """An object whose pickle is ``func(*args)``: what a real attacker's class does."""

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self.func = func
        self.args = args

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        return self.func, self.args


def os_system(c: Ctx) -> a.Obj:
    """``os.system('touch <trace>')`` as opcodes."""
    return a.call(a.glob("os", "system"), a.ustr(c.shell))


def payload_pickle(c: Ctx, protocol: int = 2) -> bytes:
    return a.wrap(os_system(c), protocol)


def reduce_object(c: Ctx) -> Reduce:
    """A Python object that pickles to ``os.system(...)`` (``posix.system`` on Linux)."""
    return Reduce(os.system, c.shell)


def dumps(obj: object, protocol: int) -> bytes:
    return pickle.dumps(obj, protocol=protocol)


def write(
    c: Ctx,
    name: str,
    data: bytes,
    *,
    offset: int | None = None,
    live: Live | None = PICKLE_LIVE,
    members: tuple[str, ...] = (),
) -> Built:
    path = c.dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return Built(path, members=members, offset=offset, live=live)


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
