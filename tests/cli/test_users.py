"""``bastion users`` against a real database file (SQLite) and PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from bastion.audit.checkpoint import NoteSigner
from bastion.audit.query import Filter, search
from bastion.audit.verify import verify_log
from bastion.cli.main import cli
from bastion.db import make_engine
from bastion.server.run import AUDIT_KEY_FILE, AUDIT_ORIGIN

PASSWORD = "violet-anchor-ferris-71"  # noqa: S105


@pytest.fixture
def run(database_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    env = {
        "BASTION_DATABASE_URL": database_url,
        "BASTION_DATA_DIR": str(tmp_path / "data"),
        "BASTION_AUTH_ARGON2_TIME_COST": "1",
        "BASTION_AUTH_ARGON2_MEMORY_KIB": "64",
        "BASTION_AUTH_ARGON2_PARALLELISM": "1",
    }

    def invoke(*args: str, input: str | None = None) -> tuple[int, str]:
        result = runner.invoke(cli, ["users", *args], input=input, env=env)
        return result.exit_code, result.output

    return invoke


def test_the_admin_cli_end_to_end(run, tmp_path: Path, database_url: str) -> None:  # type: ignore[no-untyped-def]
    assert run("create", "alice", input=f"{PASSWORD}\n{PASSWORD}\n")[0] == 0
    code, out = run("create", "bob", "--password-stdin", input="password123456\n")
    assert code == 1
    assert "breached" in out
    assert run("create", "alice", "--password-stdin", input=f"{PASSWORD}\n")[0] == 2
    assert run("grant", "alice", "admin") == (0, "granted admin@* for alice\n")
    assert run("grant", "alice", "reader", "-n", "team-a")[0] == 0
    assert run("grant", "alice", "reader")[0] == 2  # a namespace role needs a namespace
    code, out = run("list", "--json")
    assert code == 0
    assert json.loads(out) == [
        {"name": "alice", "disabled": False, "mfa": False, "locked": False,
         "roles": ["admin@*", "reader@team-a"]}
    ]  # fmt: skip
    png = tmp_path / "qr.png"
    code, out = run("mfa", "enrol", "alice", "--png", str(png))
    assert code == 0
    assert "█" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    secret = re.search(r"secret: ([A-Z2-7]+)", out)
    assert secret is not None
    assert (
        run(
            "mfa",
            "confirm",
            "alice",
            "000000" if pyotp.TOTP(secret[1]).now() != "000000" else "111111",
        )[0]
        == 1
    )
    code, out = run("mfa", "confirm", "alice", pyotp.TOTP(secret[1]).now())
    assert code == 0
    assert len(re.findall(r"^  \w{5}-\w{5}-\w{5}$", out, re.M)) == 10
    assert json.loads(run("list", "--json")[1])[0]["mfa"] is True
    assert run("sessions", "alice", "--json") == (0, "[]\n")
    assert run("sessions", "alice", "--revoke-all")[0] == 0
    for command in ("reset-mfa", "unlock", "disable", "enable"):
        assert run(command, "alice")[0] == 0, command
    assert run("revoke", "alice", "admin")[0] == 0
    assert (
        run("set-password", "alice", "--password-stdin", input="quartz-meadow-lantern-42\n")[0] == 0
    )
    assert run("delete", "alice")[0] == 0
    assert run("delete", "alice")[0] == 2
    # Every change is in the tamper-evident log the server writes, which verifies.
    engine = make_engine(database_url)
    try:
        events = [e for _, e in search(engine, Filter(action="user.*"))]
        key = NoteSigner.load_or_create(tmp_path / "data" / AUDIT_KEY_FILE, AUDIT_ORIGIN)
        assert verify_log(engine, key).size >= len(events)  # and sessions.*, mfa.*
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT entry FROM audit_entries"))
            stored = " ".join(str(r[0]) for r in rows)
    finally:
        engine.dispose()
    assert [e.action for e in events][:3] == ["user.create", "user.grant", "user.grant"]
    assert events[-1].action == "user.delete"
    assert all(e.actor.startswith("operator:") for e in events)
    assert PASSWORD not in stored


def test_the_default_database_lives_in_the_data_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["users", "--data-dir", str(tmp_path / "d"), "create", "carol", "--password-stdin"],
        input=f"{PASSWORD}\n",
        env={"BASTION_DATABASE_URL": None, "BASTION_AUTH_ARGON2_MEMORY_KIB": "64"},
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "d" / "bastion.db").is_file()
