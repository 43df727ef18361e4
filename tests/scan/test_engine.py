"""The walk and the process pool: the same report whichever way the files are scanned."""

from __future__ import annotations

import pickle
from pathlib import Path

from bastion.scan import Status, scan_path


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
