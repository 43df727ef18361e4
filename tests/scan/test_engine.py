"""The walk and the process pool: the same report whichever way the files are scanned."""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from pathlib import Path

import pytest

from bastion.scan import Status, _engine, scan_path
from bastion.scan._policy import Policy


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


def test_forked_workers_use_the_policy_the_parent_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forked worker inherits the parent's policy, already read, instead of parsing the
    policy files again (a folder of 256 small files or more is scanned in a pool)."""
    if _engine._pool_context() is None:
        pytest.skip("another thread is running: workers are spawned, not forked")
    readers = tmp_path / "readers"
    real_read = Policy._read.__func__  # type: ignore[attr-defined]

    def counting_read(cls: type[Policy], *args: object, **kwargs: object) -> Policy:
        with readers.open("a") as f:
            f.write(f"{os.getpid()}\n")
        return real_read(cls, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(Policy, "_read", classmethod(counting_read))
    models = tmp_path / "models"
    models.mkdir()
    for i in range(_engine.PARALLEL_FILES):
        (models / f"m{i}.pkl").write_bytes(pickle.dumps(OrderedDict(i=i), protocol=4))
    (models / "evil.pkl").write_bytes(b"cos\nsystem\n(S'id'\ntR.")
    report = scan_path(models, workers=2)
    assert report.exit_code() == 1
    assert sum(r.status is Status.CLEAN for r in report.files) == _engine.PARALLEL_FILES
    assert readers.read_text().split() == [str(os.getpid())]
