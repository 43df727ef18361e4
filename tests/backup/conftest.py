"""A real server over TLS on a data directory, with the tamper-evident audit log that
``bastion up`` writes, so backups and playbooks run against what production has."""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bastion.audit import MemoryAuditSink
from bastion.audit.checkpoint import NoteSigner
from bastion.audit.log import AuditLog
from bastion.client import Client
from bastion.db import make_engine
from bastion.monitoring.sinks import FanOutSink
from bastion.server import ServerState
from bastion.server.bootstrap import Paths, open_state, prepare
from bastion.server.run import AUDIT_KEY_FILE, AUDIT_ORIGIN
from tests.server.conftest import _serve

PASSPHRASE = b"correct horse battery staple"


@dataclass
class Server:
    url: str
    paths: Paths
    state: ServerState
    log: AuditLog
    memory: MemoryAuditSink
    admin_token: str | None

    @property
    def engine(self) -> sa.Engine:
        return self.state.engine

    def client(self, token: str) -> Client:
        return Client(self.url, token, ca_cert=self.paths.cert)


@contextmanager
def running(data_dir: Path, database_url: str) -> Iterator[Server]:
    """``bastion up`` in a thread: prepare, the audit log beside a memory sink, TLS."""
    paths = Paths(data_dir)
    engine = make_engine(database_url)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    from bastion.db import migrate

    migrate(engine)
    log = AuditLog(
        engine, signer=NoteSigner.load_or_create(data_dir / AUDIT_KEY_FILE, AUDIT_ORIGIN)
    )
    memory = MemoryAuditSink()
    sink = FanOutSink([memory, log])
    try:
        first = prepare(paths, engine, sink)
        state = open_state(paths, engine, sink, max_file_size=8 << 20)
        for url in _serve(state, paths):
            yield Server(url, paths, state, log, memory, first.admin_token)
    finally:
        log.close()
        engine.dispose()


def model(folder: Path, payload: object, extra: bytes = b"") -> Path:
    folder.mkdir(parents=True)
    (folder / "model.pkl").write_bytes(pickle.dumps(payload, protocol=4))
    (folder / "config").mkdir()
    (folder / "config" / "config.json").write_text('{"layers": 2}')
    if extra:
        (folder / "weights.bin").write_bytes(extra)
    return folder


def destroy(data_dir: Path, database_url: str) -> None:
    """Lose everything: the data directory, and the database (its file, or every table)."""
    shutil.rmtree(data_dir)
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.database}{suffix}").unlink(missing_ok=True)
        return
    engine = make_engine(database_url)
    try:
        meta = sa.MetaData()
        meta.reflect(bind=engine)
        meta.drop_all(engine)
        with engine.connect() as conn:
            assert sa.inspect(conn).get_table_names() == []
    finally:
        engine.dispose()
