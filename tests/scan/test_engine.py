"""The walk and the process pool: the same report whichever way the files are scanned."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

from bastion.scan import Status, _engine, scan_path


def test_process_pool_gives_the_same_report_as_one_process(tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / f"clean{i}.pkl").write_bytes(pickle.dumps({"i": i}, protocol=4))
    (tmp_path / "evil.bin").write_bytes(b"cos\nsystem\n(S'id'\ntR.")
    (tmp_path / "cut.pkl").write_bytes(b"\x80\x04\x95")
    (tmp_path / "readme.txt").write_text("hello\n")
    one = scan_path(tmp_path, workers=1)
    pool = scan_path(tmp_path, workers=2)
    assert [(r.path, r.status, r.findings, r.errors) for r in one.files] == [
        (r.path, r.status, r.findings, r.errors) for r in pool.files
    ]
    assert {r.status for r in pool.files} == {
        Status.CLEAN,
        Status.FINDINGS,
        Status.ERROR,
        Status.SKIPPED,
    }
    assert pool.exit_code() == 2


def test_progress_is_reported_for_every_file(tmp_path: Path) -> None:
    for i in range(5):
        (tmp_path / f"m{i}.pkl").write_bytes(pickle.dumps(i))
    seen: list[tuple[int, int]] = []
    scan_path(tmp_path, workers=2, progress=lambda done, total, _: seen.append((done, total)))
    assert seen == [(i, 5) for i in range(1, 6)]


FORKED_SCAN = """
import os, sys
from bastion.scan import _engine, scan_path
from bastion.scan._policy import Policy

assert _engine._pool_context() is not None, "workers would be spawned"
real_read = Policy._read.__func__

def counting_read(cls, *args, **kwargs):
    with open(sys.argv[2], "a") as f:
        f.write(f"{os.getpid()}\\n")
    return real_read(cls, *args, **kwargs)

Policy._read = classmethod(counting_read)
report = scan_path(sys.argv[1], workers=2)
print(os.getpid(), report.exit_code(), sum(r.status.value == "clean" for r in report.files))
"""


def test_forked_workers_use_the_policy_the_parent_read(tmp_path: Path) -> None:
    """A forked worker inherits the parent's policy, already read, instead of parsing the
    policy files again (a folder of 256 small files or more is scanned in a pool). Run in
    a fresh interpreter: the pool forks only where no other thread runs."""
    models = tmp_path / "models"
    models.mkdir()
    for i in range(_engine.PARALLEL_FILES):
        (models / f"m{i}.pkl").write_bytes(pickle.dumps(OrderedDict(i=i), protocol=4))
    (models / "evil.pkl").write_bytes(b"cos\nsystem\n(S'id'\ntR.")
    readers = tmp_path / "readers"
    proc = subprocess.run(
        [sys.executable, "-c", FORKED_SCAN, str(models), str(readers)],
        capture_output=True,
        text=True,
        check=True,
    )
    parent, exit_code, clean = proc.stdout.split()
    assert (exit_code, clean) == ("1", str(_engine.PARALLEL_FILES))
    assert readers.read_text().split() == [parent]
