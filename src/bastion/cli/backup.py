"""``bastion backup create|verify|restore``.

Exit codes: 0 done (the backup verifies), 1 the backup failed verification,
2 error (no such backup, wrong passphrase, non-empty target, ...).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from bastion.cli._common import EXIT_FINDINGS, fail, operator_actor, read_passphrase
from bastion.errors import BastionError, VerificationError

PASSPHRASE_ENV = "BASTION_BACKUP_PASSPHRASE"  # noqa: S105 (a variable name)


def _store_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--database-url",
        help="[default: $BASTION_DATABASE_URL, the settings, or SQLite in the data dir]",
    )(func)
    func = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="Settings file (TOML) of the server; create also seals a copy into the backup.",
    )(func)
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="The server's data directory.  [default: $BASTION_DATA_DIR or ~/.bastion]",
    )(func)


def _passphrase_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--passphrase-file",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help=f"File holding the passphrase that seals the key material "
        f"[default: ${PASSPHRASE_ENV}, else asked for].",
    )(func)


def _passphrase(path: Path | None, *, confirm: bool) -> bytes:
    return read_passphrase(path, env=PASSPHRASE_ENV, label="Backup passphrase", confirm=confirm)


def _location(
    data_dir: Path | None, database_url: str | None, config_path: Path | None
) -> tuple[Path, str]:
    from bastion.config import Settings
    from bastion.server.bootstrap import Paths

    settings = Settings.load(config_path).server
    if data_dir is not None:
        settings = replace(settings, data_dir=data_dir)
    paths = Paths(settings.data_dir)
    url = database_url or settings.database_url or paths.default_database_url()
    return settings.data_dir, url


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def backup() -> None:
    """Back up, verify and restore a server's data: database, encrypted blobs, audit log,
    sealed keys.

    Exit codes: 0 done, 1 the backup failed verification, 2 error.
    """


@backup.command("create")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@_store_options
@_passphrase_option
def create(
    dest: Path,
    data_dir: Path | None,
    database_url: str | None,
    config_path: Path | None,
    passphrase_file: Path | None,
) -> None:
    """Write a new signed snapshot into DEST (blobs already there are reused). Safe while
    the server runs."""
    from bastion.backup import create_backup
    from bastion.db import make_engine

    try:
        base, url = _location(data_dir, database_url, config_path)
        secret = _passphrase(passphrase_file, confirm=True)
        engine = make_engine(url)
        try:
            result = create_backup(
                base,
                dest,
                engine=engine,
                passphrase=secret,
                settings_file=config_path,
                actor=operator_actor(),
            )
        finally:
            engine.dispose()
    except BastionError as exc:
        fail(exc)
    rows = sum(result.tables.values())
    click.echo(f"snapshot {result.snapshot} in {dest}")
    click.echo(f"  {len(result.tables)} tables, {rows} rows; {result.audit_size} audit entries")
    click.echo(
        f"  {result.blobs} blobs: {result.blobs_copied} copied ({result.bytes_copied} bytes), "
        f"{result.bytes_reused} bytes reused"
    )
    click.echo("signed with (keep this public key outside the server):")
    click.echo(result.public_key.decode().rstrip())


def _public_key(path: Path | None, data_dir: Path | None) -> bytes:
    from bastion.backup.base import SIGNING_PUB
    from bastion.config import Settings

    if path is None:
        base = data_dir or Settings.load().server.data_dir
        path = base / SIGNING_PUB
        if not path.is_file():
            raise BastionError(
                "no public key to check the backup with",
                hint="Pass --public-key FILE: the key `backup create` printed.",
            )
    return path.read_bytes()


_KEY_HELP = "The backup signing public key (PEM) to trust  [default: DATA_DIR/backup-signing.pub]."


@backup.command("verify")
@click.argument("dest", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--public-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help=_KEY_HELP)  # fmt: skip
@click.option("--snapshot", help="Snapshot id  [default: the newest].")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where to find the default public key.")  # fmt: skip
def verify(
    dest: Path, public_key: Path | None, snapshot: str | None, data_dir: Path | None
) -> None:
    """Check a snapshot without restoring it: signature, every file's and blob's SHA-256,
    and the audit log's Merkle tree against its signed checkpoints."""
    from bastion.backup import verify_backup

    try:
        key = _public_key(public_key, data_dir)
        result = verify_backup(dest, public_key=key, snapshot=snapshot)
    except VerificationError as exc:
        click.echo(f"FAILED: {exc.message}", err=True)
        click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(EXIT_FINDINGS)
    except BastionError as exc:
        fail(exc)
    click.echo(
        f"OK snapshot {result.snapshot}: signature, {result.files} files, {result.blobs} blobs, "
        f"{result.audit_size} audit entries ({result.checkpoint_size} under a signed checkpoint)"
    )


@backup.command("restore")
@click.argument("dest", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--public-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              required=True, help="The backup signing public key (PEM) to trust.")  # fmt: skip
@click.option("--snapshot", help="Snapshot id  [default: the newest].")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The new, empty data directory.")  # fmt: skip
@click.option("--database-url", help="An empty database  [default: SQLite in the data dir].")
@_passphrase_option
def restore(
    dest: Path,
    public_key: Path,
    snapshot: str | None,
    data_dir: Path,
    database_url: str | None,
    passphrase_file: Path | None,
) -> None:
    """Verify a snapshot, then restore it into an empty data directory and database; the
    restored audit log is proven to continue the backed-up tree."""
    from bastion.backup import restore_backup
    from bastion.db import make_engine
    from bastion.server.bootstrap import Paths

    try:
        secret = _passphrase(passphrase_file, confirm=False)
        engine = make_engine(database_url or Paths(data_dir).default_database_url())
        try:
            result = restore_backup(
                dest,
                data_dir,
                engine=engine,
                public_key=public_key.read_bytes(),
                passphrase=secret,
                snapshot=snapshot,
                actor=operator_actor(),
            )
        finally:
            engine.dispose()
    except VerificationError as exc:
        click.echo(f"FAILED: {exc.message}", err=True)
        click.echo(f"hint: {exc.hint}", err=True)
        sys.exit(EXIT_FINDINGS)
    except BastionError as exc:
        fail(exc)
    rows = sum(result.tables.values())
    click.echo(f"restored snapshot {result.snapshot} into {data_dir}")
    click.echo(f"  {rows} rows, {result.blobs} blobs, keys: {', '.join(result.restored_files)}")
    click.echo(
        f"  audit log: {result.audit_size} entries, proven to extend the backed-up "
        f"checkpoint of size {result.continued_from}"
    )
