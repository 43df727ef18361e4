"""``bastion keys generate``, ``bastion sign``, ``bastion verify``: thin layers over
:mod:`bastion.integrity`. Heavy imports (cryptography, blake3) happen inside commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bastion.cli import _sign_run as _run
from bastion.cli._common import EXIT_ERROR, fail, fail_os, read_passphrase
from bastion.cli._sign_run import PASSPHRASE_ENV
from bastion.errors import BastionError

if TYPE_CHECKING:
    pass


EXIT_CODES = """\b
Exit codes:
  0  the signature is good and every file matches
  1  verification failed: a file was added, removed or changed, the
     signature does not match the key or certificate, or it was altered
  2  the job could not be done: unreadable or malformed signature, key or
     certificate, a symlink out of the model, a file changed while hashed
"""


def _passphrase(passphrase_file: Path | None, *, confirm: bool) -> bytes:
    return read_passphrase(passphrase_file, env=PASSPHRASE_ENV, label="Passphrase", confirm=confirm)


_passphrase_option = click.option(
    "--passphrase-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"File whose first line is the key's passphrase (else ${PASSPHRASE_ENV}, else a prompt).",
)
_signature_option = click.option(
    "--signature",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Signature file.  [default: model.sig inside the model folder, or beside a file]",
)
_ignore_option = click.option(
    "--ignore-paths",
    multiple=True,
    help="Path (relative to the model) to leave out (repeatable).",
)
_symlinks_option = click.option(
    "--allow-symlinks",
    is_flag=True,
    help="Follow symlinks that stay inside the model (links out are always refused).",
)
_workers_option = click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    help="Hashing threads; 0 means one per CPU core.  [default: 0]",
)


@click.group()
def keys() -> None:
    """Create signing keys; rotate the registry's key-encryption key."""


@keys.command("generate")
@click.option(
    "--type",
    "key_type",
    type=click.Choice(["ecdsa-p256", "ed25519"]),
    default="ecdsa-p256",
    show_default=True,
    help="ECDSA P-256 works with model_signing; Ed25519 is for Bastion-only use.",
)
@click.option(
    "--out",
    "prefix",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Writes PREFIX.key (private, encrypted, mode 0600) and PREFIX.pub.",
)
@_passphrase_option
@click.option(
    "--no-encryption",
    is_flag=True,
    help="Write the private key unencrypted (for throw-away keys only).",
)
@click.option("--force", is_flag=True, help="Overwrite existing key files.")
def generate(
    key_type: str, prefix: Path, passphrase_file: Path | None, no_encryption: bool, force: bool
) -> None:
    """Generate a key pair: PREFIX.key (private) and PREFIX.pub (public)."""
    from bastion.crypto import keys as k

    private_path = prefix.with_name(prefix.name + ".key")
    public_path = prefix.with_name(prefix.name + ".pub")
    for path in (private_path, public_path):
        if path.exists() and not force:
            raise click.UsageError(f"{path} exists; use --force to overwrite it")
    passphrase = None if no_encryption else _passphrase(passphrase_file, confirm=True)
    try:
        key = k.generate(key_type)  # type: ignore[arg-type]
        private_pem = k.private_pem(key, passphrase=passphrase)
        if force:
            private_path.unlink(missing_ok=True)  # never reuse a file with looser modes
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(private_pem)
        public_path.write_bytes(k.public_pem(key))
    except OSError as exc:
        fail_os(exc, "cannot write key")
    except BastionError as exc:
        fail(exc)
    click.echo(f"wrote {private_path} (private) and {public_path} (public)")


@keys.command("rotate")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The server's data directory.  [default: $BASTION_DATA_DIR or ~/.bastion]",
)
@click.option("--database-url", help="[default: $BASTION_DATABASE_URL or SQLite in the data dir]")
@click.option(
    "--resume",
    is_flag=True,
    help="Finish an interrupted rotation: re-wrap what is left, no new key version.",
)
def rotate(data_dir: Path | None, database_url: str | None, resume: bool) -> None:
    """Rotate the registry's key-encryption key: a new version, then every blob's data key
    re-wrapped under it (no data is re-encrypted). Safe while the server runs."""
    from dataclasses import replace

    from bastion.config import Settings
    from bastion.db import make_engine
    from bastion.registry.keys import rotate_keys
    from bastion.server.bootstrap import Paths, key_provider
    from bastion.server.run import LoggingAuditSink

    try:
        settings = Settings.load().server
        if data_dir is not None:
            settings = replace(settings, data_dir=data_dir)
        paths = Paths(settings.data_dir)
        url = database_url or settings.database_url or paths.default_database_url()
        engine = make_engine(url)
        try:
            provider = key_provider(paths, settings)
            result = rotate_keys(engine, provider, LoggingAuditSink(), actor="cli", resume=resume)
        finally:
            engine.dispose()
    except BastionError as exc:
        fail(exc)
    click.echo(
        f"key {result.current.key_id} is at version {result.current.version}: "
        f"{result.rewrapped} data key(s) re-wrapped, {result.remaining} left"
    )
    if result.remaining:
        click.echo("run `bastion keys rotate --resume` to finish", err=True)
        sys.exit(EXIT_ERROR)


def _load_passphrase_for(key: Path, passphrase_file: Path | None) -> bytes | None:
    if not _run.key_is_encrypted(key):
        return None  # not needed, or unreadable: the loader reports the error
    return _passphrase(passphrase_file, confirm=False)


@click.command(
    epilog="\b\nExamples:\n  bastion sign ./my-model --key me.key\n"
    "  bastion sign model.safetensors --key me.key --signature model.safetensors.sig"
)
@click.argument("model_path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Private key (PEM; encrypted keys ask for their passphrase).",
)
@click.option(
    "--cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Signing certificate for KEY (certificate mode, as model_signing's).",
)
@click.option(
    "--cert-chain",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Intermediate certificates to put in the bundle (repeatable; with --cert).",
)
@_signature_option
@click.option(
    "--hash",
    "hash_type",
    type=click.Choice(["sha256", "blake3"]),
    default="sha256",
    show_default=True,
    help="sha256 is what `model_signing verify` expects; blake3 is faster.",
)
@click.option(
    "--shard-size",
    type=click.IntRange(min=1),
    default=None,
    help="Hash files in shards of this many bytes (model_signing's shards method).",
)
@_ignore_option
@click.option(
    "--ignore-git-paths/--no-ignore-git-paths",
    default=True,
    show_default=True,
    help="Leave out .git, .github, .gitattributes, .gitignore.",
)
@_symlinks_option
@_passphrase_option
@_workers_option
def sign(
    model_path: Path,
    key: Path,
    cert: Path | None,
    cert_chain: tuple[Path, ...],
    signature: Path | None,
    hash_type: str,
    shard_size: int | None,
    ignore_paths: tuple[str, ...],
    ignore_git_paths: bool,
    allow_symlinks: bool,
    passphrase_file: Path | None,
    workers: int,
) -> None:
    """Sign MODEL_PATH (a folder or a file) and write an OpenSSF model signing bundle."""
    if cert_chain and cert is None:
        raise click.UsageError("--cert-chain needs --cert")
    _run.sign(
        model_path,
        key=key,
        cert=cert,
        cert_chain=cert_chain,
        signature=signature,
        hash_type=hash_type,
        shard_size=shard_size,
        ignore_paths=ignore_paths,
        ignore_git_paths=ignore_git_paths,
        allow_symlinks=allow_symlinks,
        passphrase=_load_passphrase_for(key, passphrase_file),
        workers=workers,
    )


@click.command(epilog=EXIT_CODES)
@click.argument("model_path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public key (PEM) of the signer.",
)
@click.option(
    "--cert-chain",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Trusted certificates (PEM; root and intermediates) for certificate mode (repeatable).",
)
@_signature_option
@_ignore_option
@_symlinks_option
@_workers_option
def verify(
    model_path: Path,
    key: Path | None,
    cert_chain: tuple[Path, ...],
    signature: Path | None,
    ignore_paths: tuple[str, ...],
    allow_symlinks: bool,
    workers: int,
) -> None:
    """Verify MODEL_PATH against its signature: exit 0 only if every file matches."""
    if (key is None) == (not cert_chain):
        raise click.UsageError("give exactly one of --key or --cert-chain")
    _run.verify(
        model_path,
        key=key,
        cert_chain=cert_chain,
        signature=signature,
        ignore_paths=ignore_paths,
        allow_symlinks=allow_symlinks,
        workers=workers,
    )
