"""Audit log throughput: append N events through the log and verify them, against a
plain INSERT of the same rows (same table, same indexes, no hashing) as the floor.

    python bench/audit_bench.py --count 1000000 [--url postgresql://postgres@127.0.0.1/db]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from bastion.audit import AuditEvent, Outcome
from bastion.audit._bulk import insert_entries, time_value
from bastion.audit.canonical import entry_bytes, event_body, format_time
from bastion.audit.checkpoint import NoteSigner
from bastion.audit.log import AuditLog
from bastion.audit.verify import verify_log
from bastion.db import make_engine, migrate

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ACTIONS = ["auth.login", "model.upload", "model.download", "guard.block", "model.scan"]


def events(start: int, n: int) -> list[AuditEvent]:
    return [
        AuditEvent(
            action=ACTIONS[i % 5],
            actor=f"user:u{i % 97}",
            outcome=Outcome.FAILURE if i % 11 == 0 else Outcome.SUCCESS,
            resource=f"models/team/m{i % 13}:v{i % 5}",
            source=f"10.0.{i % 7}.{i % 251}",
            details={"bytes": i * 17, "sha256": f"{i:064x}"},
            time=T0 + timedelta(milliseconds=i),
        )
        for i in range(start, start + n)
    ]


def floor(url: str, count: int, chunk: int) -> float:
    """Plain INSERT of the same rows: serialisation and SQL, no tree, no lock, no hash."""
    engine = make_engine(url)
    migrate(engine)
    spent = 0.0
    for start in range(0, count, chunk):
        batch = events(start, min(chunk, count - start))
        t = time.perf_counter()
        rows = [
            (i, b"\0" * 32, time_value(engine.dialect.name, format_time(e.time)), e.action,
             e.actor, e.outcome.value, e.resource, e.source, entry_bytes(i, event_body(e)))
            for i, e in enumerate(batch, start)
        ]  # fmt: skip
        with engine.connect() as conn:
            insert_entries(conn, rows)
            conn.commit()
        spent += time.perf_counter() - t
    engine.dispose()
    return spent


def logged(url: str, count: int, chunk: int, key: Path) -> tuple[float, float]:
    engine = make_engine(url)
    migrate(engine)
    signer = NoteSigner.load_or_create(key, "bench.local/audit")
    log = AuditLog(engine, signer=signer, checkpoint_every=10_000)
    spent = 0.0
    for start in range(0, count, chunk):
        batch = events(start, min(chunk, count - start))
        t = time.perf_counter()
        for e in batch:
            log.emit(e)
        log.flush()
        spent += time.perf_counter() - t
    t = time.perf_counter()
    log.close()
    spent += time.perf_counter() - t
    t = time.perf_counter()
    report = verify_log(engine, signer)
    verify = time.perf_counter() - t
    assert report.size == count, report
    engine.dispose()
    return spent, verify


def _fresh_pg(admin: str, name: str) -> str:
    eng = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return sa.engine.make_url(admin).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=50_000, help="events generated at a time")
    parser.add_argument("--postgres", help="admin URL; runs on fresh databases there")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgres:
            url_floor = _fresh_pg(args.postgres, "bastion_bench_floor")
            url_log = _fresh_pg(args.postgres, "bastion_bench_log")
        else:
            url_floor = f"sqlite:///{tmp}/floor.db"
            url_log = f"sqlite:///{tmp}/log.db"
        floor_s = floor(url_floor, args.count, args.chunk)
        log_s, verify_s = logged(url_log, args.count, args.chunk, Path(tmp) / "k")
    result = {
        "database": "postgresql" if args.postgres else "sqlite",
        "count": args.count,
        "machine": f"{platform.machine()} {platform.python_implementation()} "
        f"{platform.python_version()}",
        "floor_inserts_per_s": round(args.count / floor_s),
        "log_appends_per_s": round(args.count / log_s),
        "log_vs_floor": round(floor_s / log_s, 3),
        "verify_s": round(verify_s, 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
