"""A real server state on a real database (SQLite and PostgreSQL), in process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bastion.audit import MemoryAuditSink
from bastion.server import ServerState, create_app
from bastion.server.bootstrap import Paths, engine_for, open_state, prepare


@dataclass
class Env:
    state: ServerState
    audit: MemoryAuditSink
    admin_token: str
    paths: Paths
    client: TestClient

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.admin_token}"}


def make_env(database_url: str, data_dir: Path, *, max_file_size: int = 64 << 30) -> Env:
    paths = Paths(data_dir)
    audit = MemoryAuditSink()
    engine = engine_for(paths, database_url)
    first = prepare(paths, engine, audit)
    assert first.admin_token is not None
    state = open_state(paths, engine, audit, max_file_size=max_file_size)
    client = TestClient(create_app(state), base_url="https://testserver")
    return Env(state, audit, first.admin_token, paths, client)


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[Env]:
    e = make_env(database_url, tmp_path / "data")
    with e.client:
        yield e
    e.state.engine.dispose()


@pytest.fixture
def sqlite_env(tmp_path: Path) -> Iterator[Env]:
    e = make_env(f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "data")
    with e.client:
        yield e
    e.state.engine.dispose()
