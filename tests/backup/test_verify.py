"""What ``backup verify`` catches, incremental reuse, the sealed keys, and the CLI."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bastion.backup import (
    BackupError,
    BackupVerificationError,
    CreateResult,
    create_backup,
    verify_backup,
)
from bastion.backup._rows import decode_value, encode_value
from bastion.backup._seal import seal, unseal
from bastion.backup.base import SIGNING_KEY, Manifest
from bastion.backup.create import sha256_file
from bastion.cli.main import cli
from bastion.crypto import keys as k
from bastion.errors import IntegrityError
from tests.backup.conftest import PASSPHRASE, Server, model, running


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running(tmp_path / "data", f"sqlite:///{tmp_path / 'b.db'}") as s:
        assert s.admin_token is not None
        with s.client(s.admin_token) as admin:
            admin.create_namespace("lab", {"allow_unscanned": True})
            admin.push(model(tmp_path / "m1", {"a": 1}, b"x" * 5000), "lab/m:1")
        yield s


def _backup(server: Server, dest: Path) -> CreateResult:
    return create_backup(server.paths.data_dir, dest, engine=server.engine, passphrase=PASSPHRASE)


def _resign(server: Server, snap: Path, edit: str) -> None:
    """Re-hash ``edit`` and re-sign the manifest with the real backup key: an insider with
    the backup key but not the audit log key."""
    manifest = json.loads((snap / "manifest.json").read_bytes())
    manifest["files"][edit] = sha256_file(snap / edit)
    body = json.dumps(manifest, sort_keys=True, indent=1).encode()
    (snap / "manifest.json").write_bytes(body)
    key = k.load_private((server.paths.data_dir / SIGNING_KEY).read_bytes(), passphrase=None)
    (snap / "manifest.sig").write_bytes(base64.b64encode(k.sign(key, body)))


def test_incremental_backup_reuses_blobs(server: Server, tmp_path: Path) -> None:
    first = _backup(server, tmp_path / "b")
    assert first.blobs_copied == first.blobs == 3  # model.pkl, config.json, weights.bin
    assert first.bytes_reused == 0
    second = _backup(server, tmp_path / "b")
    assert second.snapshot != first.snapshot
    assert second.blobs_copied == 0
    assert second.bytes_reused == first.bytes_copied
    assert second.audit_size > first.audit_size  # the first backup is in the second's log
    assert len(list((tmp_path / "b" / "blobs").iterdir())) == 3
    for snap in (first.snapshot, second.snapshot):
        verify_backup(tmp_path / "b", public_key=first.public_key, snapshot=snap)


def test_a_changed_blob_file_or_row_fails(server: Server, tmp_path: Path) -> None:
    result = _backup(server, tmp_path / "b")
    blob = next((tmp_path / "b" / "blobs").iterdir())
    original = blob.read_bytes()
    blob.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(BackupVerificationError, match="blob"):
        verify_backup(tmp_path / "b", public_key=result.public_key)
    blob.write_bytes(original)
    rows = result.path / "db" / "registry_versions.jsonl"
    rows.write_text(rows.read_text().replace("committed", "released"))
    with pytest.raises(BackupVerificationError, match="registry_versions"):
        verify_backup(tmp_path / "b", public_key=result.public_key)


def test_another_key_or_an_edited_manifest_fails(server: Server, tmp_path: Path) -> None:
    result = _backup(server, tmp_path / "b")
    other = k.public_pem(k.generate("ed25519"))
    with pytest.raises(BackupVerificationError, match="signature"):
        verify_backup(tmp_path / "b", public_key=other)
    body = (result.path / "manifest.json").read_bytes()
    (result.path / "manifest.json").write_bytes(body.replace(b'"dialect": "sqlite"', b'"x": 1'))
    with pytest.raises(BackupVerificationError, match="signature"):
        verify_backup(tmp_path / "b", public_key=result.public_key)


def test_an_edited_audit_entry_fails_even_when_re_signed(server: Server, tmp_path: Path) -> None:
    result = _backup(server, tmp_path / "b")
    path = result.path / "db" / "audit_entries.jsonl"
    lines = path.read_text().splitlines()
    row = json.loads(lines[1])
    entry = base64.b64decode(row["entry"]["b64"]).replace(b'"system"', b'"nobody"')
    assert b"nobody" in entry
    row["entry"]["b64"] = base64.b64encode(entry).decode()
    lines[1] = json.dumps(row, sort_keys=True, separators=(",", ":"))
    path.write_text("\n".join(lines) + "\n")
    _resign(server, result.path, "db/audit_entries.jsonl")
    with pytest.raises(BackupVerificationError, match="audit entry 1"):
        verify_backup(tmp_path / "b", public_key=result.public_key)


def test_sealed_keys_need_the_passphrase() -> None:
    sealed = seal({"kek.json": b"secret"}, b"a passphrase that is long")
    assert b"secret" not in sealed
    assert unseal(sealed, b"a passphrase that is long") == {"kek.json": b"secret"}
    with pytest.raises(IntegrityError, match="wrong passphrase"):
        unseal(sealed, b"another passphrase here")
    with pytest.raises(BackupError, match="at least"):
        seal({}, b"short")


def test_no_key_file_is_copied_in_clear(server: Server, tmp_path: Path) -> None:
    result = _backup(server, tmp_path / "b")
    kek = (server.paths.data_dir / "kek.json").read_bytes()
    audit_key = (server.paths.data_dir / "audit-log.key").read_bytes()
    for path in (tmp_path / "b").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert kek not in data
            assert audit_key not in data
    assert "kek.json" in Manifest.from_bytes((result.path / "manifest.json").read_bytes()).sealed


def test_cli_create_verify_restore(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BASTION_BACKUP_PASSPHRASE", PASSPHRASE.decode())
    data = str(server.paths.data_dir)
    url = str(server.engine.url)
    runner = CliRunner()
    made = runner.invoke(cli, ["backup", "create", str(tmp_path / "b"), "--data-dir", data,
                               "--database-url", url])  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "BEGIN PUBLIC KEY" in made.output
    ok = runner.invoke(cli, ["backup", "verify", str(tmp_path / "b"), "--data-dir", data])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK snapshot")
    pub = server.paths.data_dir / "backup-signing.pub"
    args = ["backup", "restore", str(tmp_path / "b"), "--public-key", str(pub), "--data-dir"]
    restored = runner.invoke(cli, [*args, str(tmp_path / "new")])
    assert restored.exit_code == 0, restored.output
    assert "proven to extend" in restored.output
    again = runner.invoke(cli, [*args, str(tmp_path / "new")])
    assert again.exit_code == 2
    assert "not empty" in again.output
    blob = next((tmp_path / "b" / "blobs").iterdir())
    blob.write_bytes(b"changed")
    bad = runner.invoke(cli, ["backup", "verify", str(tmp_path / "b"), "--data-dir", data])
    assert bad.exit_code == 1
    assert "FAILED" in bad.output
    empty = tmp_path / "empty-passphrase"
    empty.write_bytes(b"\n")
    create = ["backup", "create", str(tmp_path / "c"), "--data-dir", data, "--database-url", url]
    refused = runner.invoke(cli, [*create, "--passphrase-file", str(empty)])
    assert refused.exit_code == 2  # key material is never sealed under an empty passphrase
    assert "passphrase is empty" in refused.output
    assert not (tmp_path / "c").exists()


_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.text()
    | st.binary()
    | st.floats(allow_nan=False)
    | st.dates()
    | st.datetimes(timezones=st.just(UTC))
    | st.datetimes()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.dictionaries(st.text(), st.integers() | st.text())
)


@given(_SCALARS)
def test_values_round_trip_through_json(value: object) -> None:
    again = decode_value(json.loads(json.dumps(encode_value(value))))
    assert again == value
    assert type(again) is type(value) or isinstance(value, bytes | Decimal | date | datetime)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)
    )
)
def test_decoding_untrusted_json_never_crashes_oddly(raw: object) -> None:
    with contextlib.suppress(ValueError, TypeError):
        decode_value(raw)


@given(st.binary(max_size=2000))
def test_untrusted_manifests_raise_only_verification_errors(data: bytes) -> None:
    with pytest.raises(BackupVerificationError):
        Manifest.from_bytes(data)


def test_backups_taken_during_uploads_are_consistent(server: Server, tmp_path: Path) -> None:
    """Pushes keep committing while snapshots are taken; each snapshot verifies and
    restores (foreign keys hold: no file row without its blob, no blob without its file)."""
    import threading

    from bastion.backup import restore_backup
    from bastion.db import make_engine

    stop = threading.Event()
    pushed: list[str] = []
    assert server.admin_token is not None

    def push() -> None:
        with server.client(server.admin_token or "") as admin:
            i = 0
            while not stop.is_set() and i < 40:
                admin.push(model(tmp_path / f"busy{i}", {"i": i}, b"w" * 20_000), f"lab/busy:{i}")
                pushed.append(f"lab/busy:{i}")
                i += 1

    worker = threading.Thread(target=push)
    worker.start()
    try:
        snaps = [_backup(server, tmp_path / "b") for _ in range(3)]
    finally:
        stop.set()
        worker.join()
    for snap in snaps:
        verify_backup(tmp_path / "b", public_key=snap.public_key, snapshot=snap.snapshot)
    assert oct((tmp_path / "b").stat().st_mode & 0o777) == "0o700"
    engine = make_engine(f"sqlite:///{tmp_path / 'restored.db'}")
    try:
        result = restore_backup(tmp_path / "b", tmp_path / "restored", engine=engine,
                                public_key=snaps[-1].public_key, passphrase=PASSPHRASE)  # fmt: skip
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    finally:
        engine.dispose()
    assert result.blobs == snaps[-1].blobs


@given(st.binary(max_size=300))
def test_untrusted_key_bundles_raise_integrity_errors_only(data: bytes) -> None:
    with pytest.raises(IntegrityError):
        unseal(data, b"a passphrase that is long")
