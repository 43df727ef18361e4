"""A backup taken on one database restores into the other: SQLite to PostgreSQL and back."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.audit.checkpoint import NoteVerifier
from bastion.audit.verify import verify_log
from bastion.backup import create_backup, restore_backup
from bastion.db import make_engine
from tests.backup.conftest import PASSPHRASE, model, running
from tests.conftest import _postgres_database


@pytest.mark.slow
@pytest.mark.parametrize("direction", ["sqlite-to-postgresql", "postgresql-to-sqlite"])
def test_restore_into_the_other_database(direction: str, tmp_path: Path) -> None:
    postgres = _postgres_database()
    pg_url = next(postgres)
    try:
        sqlite_url = f"sqlite:///{tmp_path / 'bastion.db'}"
        source, target = (
            (sqlite_url, pg_url) if direction == "sqlite-to-postgresql" else (pg_url, sqlite_url)
        )
        folder = model(tmp_path / "m", {"weights": list(range(50))}, b"\x00\x01" * 4000)
        with running(tmp_path / "data", source) as server:
            assert server.admin_token is not None
            token = server.admin_token
            with server.client(token) as admin:
                admin.create_namespace("lab", {"allow_unscanned": True})
                admin.push(folder, "lab/m:1")
            made = create_backup(
                server.paths.data_dir, tmp_path / "b", engine=server.engine, passphrase=PASSPHRASE
            )
        engine = make_engine(target)
        try:
            restore_backup(
                tmp_path / "b",
                tmp_path / "restored",
                engine=engine,
                public_key=made.public_key,
                passphrase=PASSPHRASE,
            )
        finally:
            engine.dispose()
        with running(tmp_path / "restored", target) as server:
            with server.client(token) as admin:
                written = admin.pull("lab/m:1", tmp_path / "out")
            for path in written:
                assert (
                    path.read_bytes() == (folder / path.relative_to(tmp_path / "out")).read_bytes()
                )
            server.log.checkpoint()
            vkey = server.log.signer.vkey()
            assert verify_log(server.engine, NoteVerifier.from_vkey(vkey)).size > made.audit_size
    finally:
        postgres.close()
