"""The log on SQLite and PostgreSQL: appends, checkpoints, proofs, and tampering."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from bastion.audit.checkpoint import NoteSigner, NoteVerifier
from bastion.audit.log import AuditLog
from bastion.audit.proofs import check_proof, prove_consistency, prove_inclusion
from bastion.audit.verify import LogTamperedError, verify_log
from bastion.errors import VerificationError

from .conftest import ORIGIN, make_events

N = 300


@pytest.fixture
def filled(engine: Engine, signer: NoteSigner) -> Engine:
    with AuditLog(engine, signer=signer, checkpoint_every=100, batch_max=64) as log:
        log.append(make_events(150))
        for event in make_events(N - 150, 150):
            log.emit(event)
        log.flush()
    return engine


def _sql(engine: Engine, *statements: str, **params: object) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement), params)


def _first_bad(engine: Engine, signer: NoteSigner) -> int:
    with pytest.raises(LogTamperedError) as info:
        verify_log(engine, signer)
    return info.value.first_bad


def test_a_clean_log_verifies_and_every_entry_is_signed(filled: Engine, signer: NoteSigner) -> None:
    report = verify_log(filled, signer)
    assert report.size == N
    assert report.unsigned == 0
    assert report.checkpoints >= 2


def test_concurrent_writers_build_one_tree(engine: Engine, signer: NoteSigner) -> None:
    logs = [AuditLog(engine, signer=signer, batch_max=16) for _ in range(3)]
    threads = [
        threading.Thread(target=lambda lg=lg, k=k: lg.append(make_events(40, 40 * k)))
        for k, lg in enumerate(logs)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for lg in logs:
        lg.close()
    assert verify_log(engine, signer).size == 120


def test_key_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "k" / "audit.key"
    signer = NoteSigner.load_or_create(path, ORIGIN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert NoteSigner.load_or_create(path, ORIGIN).vkey() == signer.vkey()
    assert NoteVerifier.from_vkey(signer.vkey()).hash == signer.hash


def test_proofs_check_offline_with_only_the_verifier_key(
    filled: Engine, signer: NoteSigner
) -> None:
    verifier = NoteVerifier.from_vkey(signer.vkey())
    for index in (0, 1, 137, N - 1):
        doc = json.dumps(prove_inclusion(filled, index).to_json())
        assert check_proof(doc, verifier)["index"] == index
    with filled.connect() as conn:
        sizes = sorted(conn.execute(sa.text("SELECT size FROM audit_checkpoints")).scalars())
    doc = json.dumps(prove_consistency(filled, sizes[0], sizes[-1]).to_json())
    assert check_proof(doc, verifier) == {
        "type": "consistency",
        "old_size": sizes[0],
        "new_size": sizes[-1],
    }
    forged = json.loads(json.dumps(prove_inclusion(filled, 5).to_json()))
    forged["index"] = 6
    with pytest.raises(VerificationError):
        check_proof(json.dumps(forged), verifier)


def test_edited_entry_is_named(filled: Engine, signer: NoteSigner) -> None:
    _sql(filled, "UPDATE audit_entries SET entry = :e WHERE idx = 42", e=b'{"x":1}')
    assert _first_bad(filled, signer) == 42


def test_edited_column_is_named(filled: Engine, signer: NoteSigner) -> None:
    _sql(filled, "UPDATE audit_entries SET actor = 'user:nobody' WHERE idx = 77")
    assert _first_bad(filled, signer) == 77


def test_deleted_entry_is_named(filled: Engine, signer: NoteSigner) -> None:
    _sql(filled, "DELETE FROM audit_entries WHERE idx = 99")
    assert _first_bad(filled, signer) == 99


def test_inserted_entry_is_named(filled: Engine, signer: NoteSigner) -> None:
    # make room at 50 by shifting the rest up (from the top, to keep the key unique)
    with filled.begin() as conn:
        rows = conn.execute(sa.text("SELECT idx FROM audit_entries WHERE idx >= 50")).scalars()
        for idx in sorted(rows, reverse=True):
            conn.execute(
                sa.text("UPDATE audit_entries SET idx = idx + 1 WHERE idx = :i"), {"i": idx}
            )
        conn.execute(
            sa.text(
                "INSERT INTO audit_entries (idx, leaf_hash, time, action, actor, outcome,"
                " entry) SELECT 50, leaf_hash, time, action, actor, outcome, entry"
                " FROM audit_entries WHERE idx = 10"
            )
        )
    assert _first_bad(filled, signer) == 50


def test_reordered_entries_are_named(filled: Engine, signer: NoteSigner) -> None:
    _sql(
        filled,
        "UPDATE audit_entries SET idx = -1 WHERE idx = 120",
        "UPDATE audit_entries SET idx = 120 WHERE idx = 121",
        "UPDATE audit_entries SET idx = 121 WHERE idx = -1",
    )
    assert _first_bad(filled, signer) == 120


def test_rehashed_edit_is_caught_by_the_signed_checkpoint(
    filled: Engine, signer: NoteSigner
) -> None:
    """An insider who recomputes the leaf hash is still caught by the signature."""
    with filled.begin() as conn:
        entry = conn.execute(sa.text("SELECT entry FROM audit_entries WHERE idx = 200")).scalar()
        assert entry is not None
        forged = bytes(entry).replace(b'"success"', b'"failure"').replace(b'"failure"', b'"denied"')
        from bastion.audit.merkle import leaf_hash

        conn.execute(
            sa.text(
                "UPDATE audit_entries SET entry = :e, leaf_hash = :h, outcome = 'denied'"
                " WHERE idx = 200"
            ),
            {"e": forged, "h": leaf_hash(forged)},
        )
    with pytest.raises(LogTamperedError, match=r"re-hashed|subtree") as info:
        verify_log(filled, signer)
    assert info.value.first_bad <= 200


def test_truncated_table_is_detected(filled: Engine, signer: NoteSigner) -> None:
    _sql(filled, "DELETE FROM audit_entries WHERE idx >= 250")
    assert _first_bad(filled, signer) == 250


def test_emptied_table_is_detected(filled: Engine, signer: NoteSigner) -> None:
    _sql(filled, "DELETE FROM audit_entries")
    assert _first_bad(filled, signer) == 0


def test_replaced_checkpoint_is_detected(
    filled: Engine, signer: NoteSigner, tmp_path: Path
) -> None:
    other = NoteSigner.load_or_create(tmp_path / "other.key", ORIGIN)
    with filled.begin() as conn:
        size, _note = conn.execute(
            sa.text("SELECT size, note FROM audit_checkpoints ORDER BY size LIMIT 1")
        ).one()
    from bastion.audit.checkpoint import Checkpoint

    forged = other.sign(Checkpoint(ORIGIN, size, b"\x00" * 32))
    _sql(filled, "UPDATE audit_checkpoints SET note = :n WHERE size = :s", n=forged, s=size)
    with pytest.raises(LogTamperedError, match="replaced"):
        verify_log(filled, signer)


def test_an_outside_checkpoint_catches_a_rewritten_log(filled: Engine, signer: NoteSigner) -> None:
    with filled.connect() as conn:
        kept = conn.execute(
            sa.text("SELECT note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
        ).scalar()
    _sql(filled, "DELETE FROM audit_checkpoints", "DELETE FROM audit_entries WHERE idx >= 280")
    with pytest.raises(LogTamperedError) as info:
        verify_log(filled, signer, checkpoints=[str(kept)])
    assert info.value.first_bad == 280
    assert any("truncated" in p for p in info.value.problems)


def test_an_outage_loses_no_event_and_callers_see_it(engine: Engine, signer: NoteSigner) -> None:
    from bastion.audit.log import AuditWriteError

    log = AuditLog(engine, signer=signer, close_timeout=0.5)
    try:
        log.append(make_events(5))
        _sql(engine, "ALTER TABLE audit_state RENAME TO audit_state_away")  # the store is gone
        for event in make_events(20, 5):
            log.emit(event)
        with pytest.raises(AuditWriteError):
            log.flush(timeout=1.0)  # the writer keeps the batch and retries
        _sql(engine, "ALTER TABLE audit_state_away RENAME TO audit_state")
        log.flush(timeout=30.0)  # back: every queued event is stored
    finally:
        log.close()
    assert verify_log(engine, signer).size == 25


def test_closing_during_an_outage_logs_what_it_could_not_store(
    engine: Engine, signer: NoteSigner, caplog: pytest.LogCaptureFixture
) -> None:
    from bastion.audit.log import AuditWriteError

    log = AuditLog(engine, signer=signer, close_timeout=0.3)
    _sql(engine, "ALTER TABLE audit_state RENAME TO audit_state_away")
    try:
        log.emit(make_events(1)[0])
        with pytest.raises(AuditWriteError):
            log.close()
    finally:
        _sql(engine, "ALTER TABLE audit_state_away RENAME TO audit_state")
    unstored = [r for r in caplog.records if r.getMessage().startswith("audit event not stored")]
    assert len(unstored) == 1
    assert json.loads(unstored[0].getMessage().split(": ", 1)[1])["action"]
