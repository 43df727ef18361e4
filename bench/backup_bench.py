"""Benchmark: ``bastion backup create|verify|restore`` on a filled SQLite server, against a
plain copy of the same data (SQLite's online backup API plus a copy of the blob folder).

    python bench/backup_bench.py                      # 40 models x 5 MB, 100,000 audit events
    python bench/backup_bench.py --models 10 --mb 2 --events 20000   # a quick look

The data directory is filled in process, untimed, through the registry's own upload path
(every blob encrypted as a push would store it, each version scanned and committed) and the
audit log. Each row is then a child process (argv, never a shell), measured with
``_measure.run_once``: wall time, CPU time (user + system) and peak RSS. Rows that change
state (create, restore) run once; ``verify`` and the floor run three times and the median
wall time is reported. Results go to ``docs/benchmarks-backup.md`` and
``bench/out/backup-results.json``. A script, not a test: nothing asserts on time.

The floor does less than a backup on purpose: it neither signs, hashes, dumps rows
dialect-neutrally, seals keys, nor checks anything; it is the cost of moving the bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from _measure import Command, run_once  # noqa: E402

PASSPHRASE = "benchmark passphrase, not a secret"  # noqa: S105 (a throwaway benchmark key)


def fill(data_dir: Path, models: int, mb: int, events: int) -> None:
    """A data directory as `bastion up` leaves it, with models and audit events."""
    from bastion.audit import AuditEvent
    from bastion.audit.checkpoint import NoteSigner
    from bastion.audit.log import AuditLog
    from bastion.db import make_engine, migrate
    from bastion.registry.policy import NamespacePolicy
    from bastion.server.bootstrap import Paths, open_state, prepare
    from bastion.server.run import AUDIT_KEY_FILE, AUDIT_ORIGIN

    paths = Paths(data_dir)
    engine = make_engine(paths.default_database_url())
    data_dir.mkdir(parents=True, mode=0o700)
    migrate(engine)
    log = AuditLog(
        engine, signer=NoteSigner.load_or_create(data_dir / AUDIT_KEY_FILE, AUDIT_ORIGIN)
    )
    try:
        prepare(paths, engine, log)
        state = open_state(paths, engine, log)
        state.registry.create_namespace("bench", "bench", NamespacePolicy(allow_unscanned=True))
        assert state.registry.namespaces() == ["bench"]
        chunk = os.urandom(1 << 20)
        for i in range(models):
            upload = state.uploads.start("bench", "bench", f"m{i}", "1")
            sink = state.uploads.open_file("bench", "bench", upload, "weights.bin")
            for _ in range(mb):
                sink.write(chunk[i % 256 :] + chunk[: i % 256])
            sink.close()
            state.uploads.commit("bench", "bench", upload, signature=None)
        batch = [
            AuditEvent(
                action="model.download", actor=f"token:t{j % 50}", resource=f"bench/m{j % 7}:1"
            )
            for j in range(5000)
        ]
        for _ in range(max(events // len(batch), 0)):
            log.append(batch)
        log.checkpoint()
    finally:
        log.close()
        engine.dispose()


def floor(data_dir: str, dest: str) -> None:
    """The plain copy: SQLite's online backup API, then the blob folder as it is."""
    import sqlite3

    Path(dest).mkdir(parents=True)
    src = sqlite3.connect(Path(data_dir) / "bastion.db")
    dst = sqlite3.connect(Path(dest) / "bastion.db")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    shutil.copytree(Path(data_dir) / "blobs", Path(dest) / "blobs")


@dataclass(frozen=True)
class Row:
    name: str
    what: str
    wall_s: float
    cpu_s: float
    rss_mb: float
    exit_code: int | None
    runs: int
    load: float


def measure(
    name: str, what: str, argv: list[str], out: Path, repeats: int, before: object = None
) -> Row:
    env = {"PYTHONPATH": str(ROOT / "src"), "BASTION_BACKUP_PASSPHRASE": PASSPHRASE}
    results = []
    for _ in range(repeats):
        if callable(before):
            before()
        load = os.getloadavg()[0]
        run = run_once(
            Command(tuple(argv), ROOT, env), out / f"{name}.out", out / f"{name}.err", 1800
        )
        results.append((run, load))
    median = statistics.median_low([r.wall_s for r, _ in results])
    run, load = next((r, avg) for r, avg in results if r.wall_s == median)
    return Row(name, what, run.wall_s, run.cpu_s, run.peak_rss_mb, run.exit_code, repeats, load)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=40)
    parser.add_argument("--mb", type=int, default=5, help="MB per model")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "backup")
    args = parser.parse_args()
    if len(sys.argv) > 1 and sys.argv[1] == "--floor-child":
        return
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    data = out / "data"
    started = time.time()
    fill(data, args.models, args.mb, args.events)
    fill_s = time.time() - started
    blob_bytes = sum(p.stat().st_size for p in (data / "blobs").rglob("*") if p.is_file())
    db_bytes = sum(p.stat().st_size for p in data.glob("bastion.db*"))
    total = blob_bytes + db_bytes
    bastion = [sys.executable, "-c", "from bastion.cli.main import cli; cli()"]
    dest = out / "backup"
    rows = [
        measure(
            "floor",
            "sqlite3 backup API + copy of blobs/",
            [sys.executable, __file__, "--floor-child", str(data), str(out / "floor")],
            out,
            3,
            before=lambda: shutil.rmtree(out / "floor", ignore_errors=True),
        ),
        measure(
            "create",
            "first snapshot (every blob copied)",
            [*bastion, "backup", "create", str(dest), "--data-dir", str(data)],
            out,
            1,
        ),
        measure(
            "create again",
            "incremental (no blob changed)",
            [*bastion, "backup", "create", str(dest), "--data-dir", str(data)],
            out,
            1,
        ),
        measure(
            "verify",
            "signature, every file and blob, audit tree",
            [*bastion, "backup", "verify", str(dest), "--data-dir", str(data)],
            out,
            3,
        ),
        measure(
            "restore",
            "into an empty data dir (SQLite), proofs checked",
            [
                *bastion,
                "backup",
                "restore",
                str(dest),
                "--data-dir",
                str(out / "restored"),
                "--public-key",
                str(data / "backup-signing.pub"),
            ],
            out,
            1,
        ),
    ]
    write(rows, args, total, blob_bytes, db_bytes, fill_s, out)


def write(
    rows: list[Row],
    args: argparse.Namespace,
    total: int,
    blob_bytes: int,
    db_bytes: int,
    fill_s: float,
    out: Path,
) -> None:
    import cryptography
    import sqlalchemy

    base = rows[0]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# Benchmarks: backup and restore",
        "",
        "`bastion backup create`, `verify` and `restore` (child processes through the CLI) on "
        "a SQLite server filled through the registry's upload path, against a plain copy of "
        "the same data: SQLite's online backup API plus a copy of `blobs/`. Written by "
        "`bench/backup_bench.py`.",
        "",
        f"Machine: {os.cpu_count()} cores ({platform.machine()}), Linux {platform.release()}; "
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"cryptography {cryptography.__version__}. Measured {stamp}.",
        "",
        f"Data: {args.models} models of {args.mb} MB (encrypted blobs {blob_bytes / 1e6:.0f} MB), "
        f"{args.events:,} audit events, database {db_bytes / 1e6:.0f} MB; filling it took "
        f"{fill_s:.0f} s (untimed).",
        "",
        "| row | what | wall s | CPU s | MB/s | wall / floor | peak RSS MB | exit | runs | load |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.name} | {r.what} | {r.wall_s:.2f} | {r.cpu_s:.2f} | "
            f"{total / 1e6 / r.wall_s:,.0f} | {r.wall_s / base.wall_s:.2f}x | {r.rss_mb:.0f} | "
            f"{r.exit_code} | {r.runs} | {r.load:.1f} |"
        )
    lines += [
        "",
        "- `MB/s` is (blobs + database) / wall time, with MB = 10^6 bytes. `load` is the "
        "1-minute load average when the run began: on this 2-core machine shared with other "
        "work, above ~1 means other processes shared the CPUs, and CPU time is the number to "
        "compare.",
        "- The floor moves the bytes and nothing else. A backup also dumps every row as "
        "dialect-neutral JSON, hashes every file, seals the keys (scrypt), signs the manifest "
        "and appends a signed audit event; `verify` re-hashes everything and rebuilds the "
        "audit tree; `restore` verifies first, then loads the rows, re-checks each blob and "
        "proves the restored log extends the backed-up one.",
        "",
        "How to reproduce:",
        "",
        "```bash",
        "python bench/backup_bench.py",
        "```",
        "",
    ]
    (ROOT / "docs" / "benchmarks-backup.md").write_text("\n".join(lines), encoding="utf-8")
    (out.parent / "backup-results.json").write_text(
        json.dumps([r.__dict__ for r in rows], indent=2), encoding="utf-8"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--floor-child":
        floor(sys.argv[2], sys.argv[3])
    else:
        main()
