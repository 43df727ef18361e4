"""Walks paths, scans files (in parallel across CPU cores), and builds the report."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, BinaryIO

from bastion.config import ScanLimits, ScanSettings
from bastion.models import Location
from bastion.scan._context import ScanContext
from bastion.scan._policy import Policy
from bastion.scan._registry import default_scanners
from bastion.scan.base import FileResult, ScanIssue, ScanReport

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext

#: Below this many bytes in all, and fewer files than ``PARALLEL_FILES``, one process
#: scans faster than a pool can start.
PARALLEL_ABOVE = 64 << 20
#: From this many files a pool pays off even when they are small: forked workers start
#: in milliseconds and share the policy the parent has already read.
PARALLEL_FILES = 256

#: Called after each file with (files done, files total, result).
Progress = Callable[[int, int, FileResult], None]


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[tuple[str, str | None]]:
    """Every regular file under ``paths`` as (path, problem); a path that cannot be read
    is yielded with its problem."""
    for raw in paths:
        path = os.fspath(raw)
        try:
            st = os.stat(path)
        except OSError as exc:
            yield path, f"cannot read: {exc.strerror or exc}"
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(path)
        elif stat.S_ISREG(st.st_mode):
            yield path, None
        else:
            yield path, "not a regular file"


def _walk(root: str) -> Iterator[tuple[str, str | None]]:
    """Files under ``root``, following links to folders (a loader follows them too),
    each real folder once so that link cycles end."""
    seen: set[str] = set()

    def onerror(exc: OSError) -> None:
        raise exc

    try:
        for dirpath, dirnames, filenames in os.walk(root, onerror=onerror, followlinks=True):
            real = os.path.realpath(dirpath)
            if real in seen:
                dirnames.clear()
                continue
            seen.add(real)
            dirnames.sort()
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                if os.path.isfile(full):
                    yield full, None
                elif os.path.islink(full):
                    yield full, "broken link"
    except OSError as exc:
        yield root, f"cannot read directory: {exc.strerror or exc}"


def scan_file(
    path: str, policy: Policy, limits: ScanLimits, *, plugins: bool = False
) -> FileResult:
    """Scan one file. Never raises for the file's content: problems become errors."""
    try:
        with open(path, "rb") as stream:
            return scan_stream(stream, path, policy, limits, plugins=plugins)
    except OSError as exc:
        issue = ScanIssue(Location(path), f"cannot read: {exc.strerror or exc}", "Check the path.")
        return FileResult(path=path, size=0, errors=(issue,))


def scan_stream(
    stream: BinaryIO,
    name: str,
    policy: Policy,
    limits: ScanLimits,
    *,
    plugins: bool = False,
) -> FileResult:
    """Scan an open binary stream (a file, or ``io.BytesIO`` of bytes about to be loaded)
    from its current position to its end, reporting under ``name``."""
    started = time.perf_counter()
    ctx = ScanContext(policy, limits, default_scanners(plugins=plugins))
    size = 0
    try:
        size = os.fstat(stream.fileno()).st_size
    except (OSError, AttributeError, ValueError):
        if stream.seekable():
            here = stream.tell()
            size = stream.seek(0, 2) - here
            stream.seek(here)
    ctx.scan_stream(stream, Location(name), top=True)
    return FileResult(
        path=name,
        size=size,
        formats=tuple(ctx.formats),
        findings=tuple(ctx.findings),
        errors=tuple(ctx.errors),
        skipped=None if ctx.formats else ctx.skipped,
        seconds=time.perf_counter() - started,
    )


# Worker processes hold one policy each (policies hold caches, not data to ship). A forked
# worker inherits the parent's, already read; a spawned one reads its own.
_worker: tuple[Policy, ScanSettings] | None = None
_inherited: Policy | None = None


def _init_worker(settings: ScanSettings) -> None:
    global _worker  # noqa: PLW0603 - one policy per worker process
    policy = _inherited if _inherited is not None else Policy.load(*settings.policy_files)
    _worker = (policy, settings)


def _pool_context() -> BaseContext | None:
    """``fork`` where it is safe (POSIX, no other thread running), else the default."""
    import multiprocessing
    import threading

    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return None


def _scan_in_worker(path: str) -> FileResult:
    assert _worker is not None
    policy, settings = _worker
    return scan_file(path, policy, settings.limits, plugins=settings.plugins)


def run(
    paths: Sequence[str | os.PathLike[str]],
    settings: ScanSettings,
    progress: Progress | None = None,
) -> ScanReport:
    started = time.perf_counter()
    policy = Policy.load(*settings.policy_files)
    entries = list(iter_files(paths))
    todo = [p for p, problem in entries if problem is None]
    results: dict[str, FileResult] = {
        p: FileResult(p, 0, errors=(ScanIssue(Location(p), problem, "Check the path."),))
        for p, problem in entries
        if problem is not None
    }
    workers = settings.workers or os.cpu_count() or 1
    if not settings.workers and len(todo) < PARALLEL_FILES and _total_size(todo) < PARALLEL_ABOVE:
        workers = 1  # starting processes costs more than scanning a few MB
    done = 0
    total = len(todo)
    if workers <= 1 or total <= 1:
        for path in todo:
            results[path] = scan_file(path, policy, settings.limits, plugins=settings.plugins)
            done += 1
            if progress:
                progress(done, total, results[path])
    else:
        from concurrent.futures import ProcessPoolExecutor

        global _inherited  # noqa: PLW0603 - handed to forked workers, cleared after
        context = _pool_context()
        if context is not None:
            policy.preload()
            _inherited = policy
        try:
            with ProcessPoolExecutor(
                max_workers=min(workers, total),
                mp_context=context,
                initializer=_init_worker,
                initargs=(settings,),
            ) as pool:
                chunk = max(1, min(32, total // (workers * 8)))
                for result in pool.map(_scan_in_worker, todo, chunksize=chunk):
                    results[result.path] = result
                    done += 1
                    if progress:
                        progress(done, total, result)
        finally:
            _inherited = None
    ordered = tuple(results[p] for p, _ in entries)
    return ScanReport(
        files=ordered, seconds=time.perf_counter() - started, policy_sources=policy.sources
    )


def _total_size(paths: Sequence[str]) -> int:
    total = 0
    for path in paths:
        try:
            total += os.path.getsize(path)
        except OSError:
            continue
        if total >= PARALLEL_ABOVE:
            break
    return total
