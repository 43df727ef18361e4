"""Run one command as a child process and measure it: wall time, CPU time, peak memory.

The child runs in its own session (so its process group can be killed on timeout or
left-over workers), with stdout and stderr going to files, never to pipes nobody reads.
Resource usage comes from ``os.wait4``: user + system CPU seconds and ``ru_maxrss`` (KiB on
Linux) of the child *and of the descendants it waited for* -- so the peak is the largest
single process in the tree, not a sum. The child is first waited for with ``WNOWAIT``, so
a timeout can never signal a process group whose leader was already reaped.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

#: Runs under this many seconds are repeated (3 runs, median reported).
REPEAT_BELOW_S = 20.0
REPEATS = 3
#: How often the process tree's total RSS is sampled.
SAMPLE_S = 0.05
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True, slots=True)
class Run:
    """One finished (or killed) run of one command."""

    wall_s: float
    cpu_s: float
    peak_rss_kib: int
    exit_code: int | None  # None when killed by a signal
    signal: int | None
    timed_out: bool
    note: str = ""  # e.g. the exit codes of a sequence of calls
    #: This harness' own peak RSS when it started the child. Linux folds the parent's
    #: high-water mark into the child's ru_maxrss at exec, so a peak at or below this
    #: value only says "no more than this" (it matters for `cat`, not for the scanners).
    harness_rss_kib: int = 0
    #: Largest sum of RSS over the whole process tree, sampled every SAMPLE_S seconds (0 if
    #: the run was too short to sample), and the most processes seen at once. RSS counts
    #: pages shared between forked workers once per process, so the sum is an upper bound.
    tree_rss_kib: int = 0
    procs: int = 1

    @property
    def peak_rss_mb(self) -> float:
        return self.peak_rss_kib * 1024 / 1e6

    @property
    def rss_is_upper_bound(self) -> bool:
        return self.peak_rss_kib <= self.harness_rss_kib


@dataclass(frozen=True, slots=True)
class Command:
    """What to run: argv (never a shell string), where, with which extra environment."""

    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str] | None = None
    discard_stdout: bool = False  # straight to /dev/null (the `cat` floor), not to the log


def cpu_model() -> str:
    """The CPU's model name for a report's machine line (Linux), else what platform says."""
    import platform

    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(OSError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(k) for k in f.read().split()]
    return kids


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * _PAGE_KIB
    except (OSError, IndexError, ValueError):
        return 0


class TreeSampler(threading.Thread):
    """Samples the total RSS of a process and all its descendants until stopped."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_kib = 0
        self.procs = 1
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(SAMPLE_S):
            tree, todo = [], [self.root]
            while todo:
                pid = todo.pop()
                tree.append(pid)
                todo += _children(pid)
            self.peak_kib = max(self.peak_kib, sum(_rss_kib(pid) for pid in tree))
            self.procs = max(self.procs, len(tree))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def run_once(
    cmd: Command, stdout: Path, stderr: Path, timeout_s: float, *, append: bool = False
) -> Run:
    """Run ``cmd`` once; stdout/stderr go to the given files (use /dev/null to drop them)."""
    env = dict(os.environ)
    if cmd.env:
        env.update(cmd.env)
    lock = threading.Lock()
    state = {"done": False, "timed_out": False}
    mode = "ab" if append else "wb"
    if cmd.discard_stdout:
        stdout = Path(os.devnull)
    harness_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with stdout.open(mode) as out, stderr.open(mode) as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd.argv),
            cwd=cmd.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )

        def on_timeout() -> None:
            with lock:
                if not state["done"]:
                    state["timed_out"] = True
                    _kill_group(proc.pid)

        timer = threading.Timer(timeout_s, on_timeout)
        timer.start()
        sampler = TreeSampler(proc.pid)
        sampler.start()
        # Wait without reaping: the pid (= pgid) stays ours until wait4 below.
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        wall = time.perf_counter() - start
        sampler.stop()
        with lock:
            state["done"] = True
        timer.cancel()
        _kill_group(proc.pid)  # workers the tool left behind must not run into the next run
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait for it again
    killed_by = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    return Run(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_kib=usage.ru_maxrss,
        exit_code=None if killed_by is not None else os.WEXITSTATUS(status),
        signal=killed_by,
        timed_out=state["timed_out"],
        harness_rss_kib=harness_rss,
        tree_rss_kib=sampler.peak_kib,
        procs=sampler.procs,
    )


def run_sequence(cmds: Sequence[Command], log_dir: Path, timeout_s: float) -> Run:
    """Run commands one after another as one measurement (e.g. one call per file).

    Wall and CPU time add up, peak RSS is the largest, the exit code is the largest seen (the
    count of each is in ``note``); the whole sequence shares one timeout budget. The outputs
    of all calls are appended to one stdout and one stderr file.
    """
    out, err = log_dir / "stdout.txt", log_dir / "stderr.txt"
    out.write_bytes(b"")
    err.write_bytes(b"")
    wall = cpu = 0.0
    peak = harness = tree = 0
    procs = 1
    codes: Counter[int] = Counter()

    def totals() -> dict[str, Any]:
        return {
            "wall_s": wall,
            "cpu_s": cpu,
            "peak_rss_kib": peak,
            "harness_rss_kib": harness,
            "tree_rss_kib": tree,
            "procs": procs,
        }

    for cmd in cmds:
        run = run_once(cmd, out, err, max(timeout_s - wall, 0.001), append=True)
        wall += run.wall_s
        cpu += run.cpu_s
        peak = max(peak, run.peak_rss_kib)
        harness = max(harness, run.harness_rss_kib)
        tree, procs = max(tree, run.tree_rss_kib), max(procs, run.procs)
        if run.timed_out or run.exit_code is None:
            note = f"stopped after {sum(codes.values()) + 1} of {len(cmds)} calls"
            return replace(run, **totals(), note=note)
        codes[run.exit_code] += 1
    note = ", ".join(f"exit {code} x{n}" for code, n in sorted(codes.items()))
    note = f"{len(cmds)} calls: {note}"
    return Run(exit_code=max(codes, default=0), signal=None, timed_out=False, note=note, **totals())


def measure(
    cmds: Sequence[Command],
    log_dir: Path,
    timeout_s: float,
    reset: Callable[[], None] = lambda: None,
) -> tuple[Run, int]:
    """Measure ``cmds`` (one command, or a sequence run as one unit).

    Runs once; a run under :data:`REPEAT_BELOW_S` is repeated up to :data:`REPEATS` times and
    the run with the median wall time is returned with the number of runs made. ``reset`` is
    called before each run (untimed).
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []

    def one() -> Run:
        reset()
        return _one(cmds, log_dir, timeout_s)

    runs.append(one())
    while (
        len(runs) < REPEATS
        and runs[0].wall_s < REPEAT_BELOW_S
        and not runs[0].timed_out
        and runs[0].exit_code is not None
    ):
        runs.append(one())
    median = statistics.median_low(r.wall_s for r in runs)
    return next(r for r in runs if r.wall_s == median), len(runs)


def _one(cmds: Sequence[Command], log_dir: Path, timeout_s: float) -> Run:
    if len(cmds) == 1:
        return run_once(cmds[0], log_dir / "stdout.txt", log_dir / "stderr.txt", timeout_s)
    return run_sequence(cmds, log_dir, timeout_s)
