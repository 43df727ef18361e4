"""A real server state for the console: the tamper-evident audit log as `bastion up` wires it,
identity with cheap Argon2id parameters and a clock the test moves, users with TOTP."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient

from bastion.audit import MemoryAuditSink
from bastion.audit.checkpoint import NoteSigner
from bastion.audit.log import AuditLog
from bastion.auth.base import Role
from bastion.auth.service import IdentityService, Operator
from bastion.config import AuthSettings
from bastion.db import migrate
from bastion.monitoring.sinks import FanOutSink
from bastion.server import ServerState, create_app
from bastion.server.bootstrap import Paths, engine_for, open_state, prepare
from bastion.server.run import AUDIT_KEY_FILE, AUDIT_ORIGIN

CHEAP = AuthSettings(argon2_time_cost=1, argon2_memory_kib=64, argon2_parallelism=1)
PASSWORD = "violet-anchor-ferris-71"  # noqa: S105
BASE = "https://testserver"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


class Clock:
    """Real time, moved forward by the test so each login gets a fresh TOTP step."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def next_step(self) -> None:
        self.offset += 30


@dataclass
class Site:
    state: ServerState
    paths: Paths
    log: AuditLog
    memory: MemoryAuditSink
    admin_token: str
    clock: Clock
    identity: IdentityService
    secrets: dict[str, str] = field(default_factory=dict)

    def add_user(self, name: str, *grants: tuple[Role, str], mfa: bool = True) -> None:
        op = Operator("test")
        self.identity.create_user(op, name, PASSWORD)
        for role, namespace in grants:
            self.identity.grant(op, name, role, namespace)
        if mfa:
            secret = self.identity.enrol_mfa_for(op, name).secret
            self.identity.confirm_mfa_for(op, name, self.code(secret))
            self.secrets[name] = secret

    def code(self, secret: str) -> str:
        self.clock.next_step()
        return pyotp.TOTP(secret).at(self.clock())

    def client(self) -> TestClient:
        return TestClient(create_app(self.state), base_url=BASE, follow_redirects=False)

    def login(self, client: TestClient, name: str) -> str:
        """Log in through the two forms; returns the page's CSRF token."""
        page = client.get("/console/login")
        response = client.post(
            "/console/login",
            data={"csrf": csrf(page.text), "username": name, "password": PASSWORD},
        )
        if name in self.secrets:
            assert response.status_code == 303, response.text
            assert response.headers["location"] == "/console/login/code"
            page = client.get("/console/login/code")
            response = client.post(
                "/console/login/code",
                data={"csrf": csrf(page.text), "code": self.code(self.secrets[name])},
            )
        assert response.status_code == 303, response.text
        home = client.get("/console/")
        assert home.status_code == 200, home.text
        return csrf(home.text)

    def flush(self) -> None:
        self.log.flush()

    def push(self, namespace: str, model: str, version: str, files: dict[str, bytes]) -> None:
        client = self.client()
        h = {"Authorization": f"Bearer {self.admin_token}"}
        r = client.post(
            f"/v1/namespaces/{namespace}/uploads",
            json={"model": model, "version": version},
            headers=h,
        )
        assert r.status_code == 201, r.text
        upload = r.json()["upload"]
        for path, data in files.items():
            r = client.put(
                f"/v1/namespaces/{namespace}/uploads/{upload}/files/{path}", content=data, headers=h
            )
            assert r.status_code in (200, 201), r.text
        r = client.post(f"/v1/namespaces/{namespace}/uploads/{upload}/commit", json={}, headers=h)
        assert r.status_code in (200, 201), r.text


def csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def make_site(database_url: str, data_dir: Path) -> Site:
    paths = Paths(data_dir)
    engine = engine_for(paths, database_url)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    migrate(engine)
    signer = NoteSigner.load_or_create(data_dir / AUDIT_KEY_FILE, AUDIT_ORIGIN)
    log = AuditLog(engine, signer=signer)
    memory = MemoryAuditSink()
    sink = FanOutSink([memory, log])
    first = prepare(paths, engine, sink)
    assert first.admin_token
    state = open_state(paths, engine, sink, auth=CHEAP, audit_verifier=signer)
    assert state.identity is not None
    clock = Clock()
    identity = IdentityService(
        engine, settings=CHEAP, audit=sink, secret_box=state.identity.secret_box, clock=clock
    )
    state = dataclasses.replace(state, identity=identity)
    state.registry.create_namespace("test", "team")
    return Site(state, paths, log, memory, first.admin_token, clock, identity)


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    s = make_site(database_url, tmp_path / "data")
    try:
        yield s
    finally:
        s.log.close()
        s.state.engine.dispose()


@pytest.fixture
def sqlite_site(tmp_path: Path) -> Iterator[Site]:
    s = make_site(f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "data")
    try:
        yield s
    finally:
        s.log.close()
        s.state.engine.dispose()
