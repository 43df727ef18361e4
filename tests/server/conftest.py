"""A real server state on a real database (SQLite and PostgreSQL), in process."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bastion.audit import MemoryAuditSink
from bastion.auth.base import Role
from bastion.auth.rbac import grant
from bastion.auth.tokens import issue_token
from bastion.client import Client
from bastion.server import ServerState, create_app
from bastion.server.bootstrap import Paths, engine_for, open_state, prepare
from bastion.server.mtls import ClientCertProtocol
from tests._servers import ThreadedServer


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


# --- a live server over TLS ------------------------------------------------------------


@dataclass
class Live:
    url: str
    paths: Paths
    state: ServerState
    audit: MemoryAuditSink
    admin: Client
    clients: list[Client]

    def client(self, token: str) -> Client:
        made = Client(self.url, token, ca_cert=self.paths.cert)
        self.clients.append(made)
        return made

    def token(self, name: str, role: Role | None, namespace: str = "", **kw: object) -> str:
        with self.state.engine.begin() as conn:
            issued = issue_token(
                conn, name=name, created_by="test", ttl=kw.pop("ttl", timedelta(hours=1)), **kw
            )  # type: ignore[arg-type]
            if role is not None:
                grant(conn, issued.info.principal.id, role, namespace)
        return issued.secret


def _serve(state: ServerState, paths: Paths, client_ca: Path | None = None) -> Iterator[str]:
    mtls: dict[str, object] = {}
    if client_ca is not None:
        mtls = {
            "ssl_ca_certs": str(client_ca),
            "ssl_cert_reqs": ssl.CERT_REQUIRED,
            "http": ClientCertProtocol,
        }
    tls = {"ssl_certfile": str(paths.cert), "ssl_keyfile": str(paths.cert_key)}
    with ThreadedServer(create_app(state), log_level="warning", **tls, **mtls) as server:
        yield f"https://127.0.0.1:{server.port}"


@pytest.fixture
def live(database_url: str, tmp_path: Path) -> Iterator[Live]:
    paths = Paths(tmp_path / "data")
    audit = MemoryAuditSink()
    engine = engine_for(paths, database_url)
    first = prepare(paths, engine, audit)
    assert first.admin_token
    state = open_state(paths, engine, audit, max_file_size=8 << 20)
    for url in _serve(state, paths):
        admin = Client(url, first.admin_token, ca_cert=paths.cert)
        admin.create_namespace("team")
        env = Live(url, paths, state, audit, admin, [admin])
        yield env
        for client in env.clients:
            client.close()
    engine.dispose()
