"""What ``bastion sign`` and ``bastion verify`` do once their arguments are read, by
click (:mod:`bastion.cli.signing`) or by the click-free reader
(:mod:`bastion.cli._sign_args`): one implementation for both, without click."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from bastion.cli._exit import EXIT_FINDINGS, EXIT_OK, echo, fail, fail_os
from bastion.errors import BastionError, VerificationError

if TYPE_CHECKING:
    from bastion.integrity.base import Signer, Verifier
    from bastion.integrity.bundle import Bundle

PASSPHRASE_ENV = "BASTION_KEY_PASSPHRASE"  # noqa: S105 - the variable name, not a secret


def key_is_encrypted(key: Path) -> bool:
    """Whether the PEM key needs a passphrase (unreadable: no; the loader says why)."""
    try:
        with key.open("rb") as stream:
            head = stream.read(4096)
    except OSError:
        return False
    return b"ENCRYPTED" in head


def sign(
    model_path: Path,
    *,
    key: Path,
    cert: Path | None,
    cert_chain: tuple[Path, ...],
    signature: Path | None,
    hash_type: str,
    shard_size: int | None,
    ignore_paths: tuple[str, ...],
    ignore_git_paths: bool,
    allow_symlinks: bool,
    passphrase: bytes | None,
    workers: int,
) -> NoReturn:
    """Sign ``model_path``, say where the signature went, and exit 0 (or 2 on error)."""
    from bastion.integrity import CertificateSigner, KeySigner, sign_model

    def load() -> Signer:
        if cert is not None:
            return CertificateSigner.from_files(key, cert, cert_chain, passphrase=passphrase)
        return KeySigner.from_file(key, passphrase=passphrase)

    try:
        out = sign_model(
            model_path,
            _DeferredSigner(load),
            signature_path=signature,
            hash_type=hash_type,  # type: ignore[arg-type]
            method="shards" if shard_size else "files",
            shard_size=shard_size or 1_000_000_000,
            ignore_paths=ignore_paths,
            ignore_git_paths=ignore_git_paths,
            allow_symlinks=allow_symlinks,
            workers=workers or None,
        )
    except BastionError as exc:
        fail(exc)
    except OSError as exc:
        fail_os(exc)
    echo(f"signed {model_path} -> {out}")
    sys.exit(EXIT_OK)


def verify(
    model_path: Path,
    *,
    key: Path | None,
    cert_chain: tuple[Path, ...],
    signature: Path | None,
    ignore_paths: tuple[str, ...],
    allow_symlinks: bool,
    workers: int,
) -> NoReturn:
    """Verify ``model_path`` (exactly one of ``key`` and ``cert_chain`` given) and exit
    with the documented code; each file that differs is named on stdout."""
    from bastion.crypto import FileChangedError
    from bastion.integrity import (
        BadBundleError,
        BadStatementError,
        CertificateVerifier,
        KeyVerifier,
        ModelMismatchError,
        ModelPathError,
        verify_model,
    )

    def load() -> Verifier:
        return KeyVerifier.from_file(key) if key else CertificateVerifier.from_files(cert_chain)

    try:
        verify_model(
            model_path,
            _DeferredVerifier(load),
            signature_path=signature,
            ignore_paths=ignore_paths,
            allow_symlinks=allow_symlinks,
            workers=workers or None,
        )
    except ModelMismatchError as exc:
        for difference in exc.differences:
            echo(f"{difference.change}: {difference.path}")
        deny(exc, f"{len(exc.differences)} file(s) differ from the signature")
    except (BadBundleError, BadStatementError, ModelPathError, FileChangedError) as exc:
        fail(exc)
    except VerificationError as exc:
        deny(exc)
    except BastionError as exc:
        fail(exc)
    echo(f"verified: {model_path}")
    sys.exit(EXIT_OK)


class _DeferredSigner:
    """A signer made on first use: the key is read, and the cryptography package imported,
    while the model's files hash (the passphrase has been read already)."""

    def __init__(self, make: Callable[[], Signer]) -> None:
        self._make = make
        self._signer: Signer | None = None

    def _loaded(self) -> Signer:
        if self._signer is None:
            self._signer = self._make()
        return self._signer

    def sign(self, message: bytes) -> bytes:
        return self._loaded().sign(message)

    @property
    def key_hint(self) -> str | None:
        return self._loaded().key_hint

    @property
    def certificates(self) -> tuple[bytes, ...]:
        return self._loaded().certificates


class _DeferredVerifier:
    """A verifier made on first use: the key or certificates are read, and the
    cryptography package imported (about 60 ms), while the model's files hash."""

    def __init__(self, make: Callable[[], Verifier]) -> None:
        self._make = make

    def verify(self, bundle: Bundle) -> None:
        self._make().verify(bundle)


def deny(exc: VerificationError, summary: str | None = None) -> NoReturn:
    echo(f"verification failed: {summary or exc.message}", err=True)
    if exc.hint:
        echo(f"hint: {exc.hint}", err=True)
    sys.exit(EXIT_FINDINGS)
