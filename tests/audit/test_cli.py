"""``bastion audit`` end to end on both databases: verify, tamper, prove, search, export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bastion.audit.checkpoint import NoteSigner
from bastion.audit.log import AuditLog
from bastion.cli.main import cli
from bastion.db import make_engine, migrate

from .conftest import make_events

ORIGIN = "bastion.local/audit"


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> list[str]:
    engine = make_engine(database_url)
    migrate(engine)
    signer = NoteSigner.load_or_create(tmp_path / "audit-log.key", ORIGIN)
    with AuditLog(engine, signer=signer, checkpoint_every=20) as log:
        log.append(make_events(60))
    engine.dispose()
    return ["--data-dir", str(tmp_path), "--database-url", database_url]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["audit", *args])
    return result.exit_code, result.output


def test_verify_then_tamper(store: list[str]) -> None:
    code, out = run("verify", *store, "--json")
    assert code == 0, out
    assert json.loads(out)["size"] == 60
    engine = make_engine(store[-1])
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_entries SET resource = 'x' WHERE idx = 33"))
    engine.dispose()
    code, out = run("verify", *store, "--json")
    assert code == 1
    assert json.loads(out)["first_bad"] == 33


def test_prove_and_check_offline(store: list[str], tmp_path: Path) -> None:
    code, out = run("prove", *store, "--entry", "17")
    assert code == 0, out
    proof = tmp_path / "p.json"
    proof.write_text(out)
    code, out = run("prove", *store, "--check", str(proof))
    assert code == 0, out
    assert json.loads(out)["index"] == 17
    doc = json.loads(proof.read_text())
    doc["proof"] = doc["proof"][1:]
    proof.write_text(json.dumps(doc))
    code, _ = run("prove", *store, "--check", str(proof))
    assert code == 1
    code, _ = run("prove", *store)
    assert code == 2


def test_search_filters(store: list[str]) -> None:
    code, out = run(
        "search", *store, "--actor", "user:u3", "--action", "model.*", "--outcome", "success"
    )
    assert code == 0, out
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows
    assert all(r["actor"] == "user:u3" and r["action"].startswith("model.") for r in rows)
    assert all(r["outcome"] == "success" for r in rows)
    code, out = run("search", *store, "--since", "2026-01-02T03:04:30", "--limit", "3")
    assert [json.loads(line)["index"] for line in out.splitlines()] == [25, 26, 27]


REQUIRED = {
    6003: {"activity_id", "actor", "api", "category_uid", "class_uid", "cloud", "metadata",
           "severity_id", "src_endpoint", "time", "type_uid"},
    2004: {"activity_id", "category_uid", "class_uid", "finding_info", "metadata",
           "severity_id", "time", "type_uid"},
}  # fmt: skip


def test_ocsf_export_has_the_required_fields(store: list[str]) -> None:
    code, out = run("export", *store, "--format", "ocsf")
    assert code == 0, out
    records = [json.loads(line) for line in out.splitlines()]
    assert {r["class_uid"] for r in records} == {6003, 2004}  # guard.block -> finding
    for r in records:
        assert REQUIRED[r["class_uid"]] <= set(r)
        assert r["type_uid"] == r["class_uid"] * 100 + r["activity_id"]
        assert r["category_uid"] == r["class_uid"] // 1000
        assert {"version", "product"} <= set(r["metadata"])
        assert isinstance(r["time"], int)
    code, out = run("export", *store)
    assert len(out.splitlines()) == 60


def test_checkpoint_and_key(store: list[str]) -> None:
    code, note = run("checkpoint", *store)
    assert code == 0
    assert note.startswith(ORIGIN + "\n60\n")
    code, vkey = run("key", *store)
    assert vkey.startswith(ORIGIN + "+")


def test_verify_records_its_result_and_alerts_on_failure(store: list[str]) -> None:
    assert run("verify", *store)[0] == 0
    engine = make_engine(store[-1])
    with engine.begin() as conn:
        actions = conn.execute(sa.text("SELECT action FROM audit_entries WHERE idx >= 60"))
        assert list(actions.scalars()) == ["audit.verify"]
        conn.execute(sa.text("DELETE FROM audit_entries WHERE idx = 5"))
    assert run("verify", *store)[0] == 1
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT action, outcome FROM audit_entries WHERE idx >= 61 ORDER BY idx")
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("audit.verify", "failure"),
        ("alert.audit_verify_failed", "success"),
    ]
    assert run("verify", *store, "--no-record")[0] == 1
