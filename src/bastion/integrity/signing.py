"""Sign a model (any folder or file) and verify it: the library calls behind the CLI.

>>> sign_model("my-model", KeySigner.from_file(Path("key.pem"), passphrase=b"pw"))  # doctest: +SKIP
>>> verify_model("my-model", KeyVerifier.from_file(Path("key.pub")))  # doctest: +SKIP

``verify_model`` returns None or raises :class:`VerificationError` (a
:class:`ModelMismatchError` names each file added, removed or changed).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from bastion.crypto.digests import Algorithm
from bastion.integrity import bundle as _bundle
from bastion.integrity import statement as _statement
from bastion.integrity.base import Signer, Verifier
from bastion.integrity.hashing import default_ignores, hash_model, serialization_for
from bastion.integrity.manifest import DEFAULT_SHARD_SIZE, Manifest, Method, check

DEFAULT_SIGNATURE_NAME = "model.sig"


def default_signature_path(model: str | os.PathLike[str]) -> Path:
    """``model.sig`` inside a model folder, or next to a single-file model."""
    path = Path(model)
    return path / DEFAULT_SIGNATURE_NAME if path.is_dir() else path.parent / DEFAULT_SIGNATURE_NAME


def _inside(model: Path, signature: Path) -> str | None:
    """The signature's path relative to the model, when it lies inside the model folder."""
    if not model.is_dir():
        return None
    try:
        rel = signature.resolve().relative_to(model.resolve())
    except ValueError:
        return None
    return rel.as_posix()


def sign_model(
    model: str | os.PathLike[str],
    signer: Signer,
    *,
    signature_path: str | os.PathLike[str] | None = None,
    hash_type: Algorithm = "sha256",
    method: Method = "files",
    shard_size: int = DEFAULT_SHARD_SIZE,
    ignore_paths: Iterable[str] = (),
    ignore_git_paths: bool = True,
    allow_symlinks: bool = False,
    workers: int | None = None,
) -> Path:
    """Hash the model, sign its manifest, write the bundle; return the bundle's path.

    The defaults (``files``, SHA-256, git files and the signature itself ignored) make a
    bundle that ``model_signing verify key`` accepts.
    """
    root = Path(model)
    out = Path(signature_path) if signature_path is not None else default_signature_path(root)
    ignores = list(ignore_paths)
    sig_rel = _inside(root, out)
    if sig_rel is not None:
        ignores.append(sig_rel)
    serialization = serialization_for(
        method=method,
        hash_type=hash_type,
        shard_size=shard_size,
        allow_symlinks=allow_symlinks,
        ignore_paths=default_ignores(root, ignores, ignore_git_paths=ignore_git_paths),
    )
    # A signer that loads its key on first use (the CLI's) loads it while the files hash.
    manifest = hash_model(root, serialization, workers=workers, meanwhile=lambda: signer.key_hint)
    payload = _statement.encode(manifest)
    signature = signer.sign(_bundle.pae(_statement.PAYLOAD_TYPE, payload))
    _bundle.write(
        out,
        _bundle.Bundle(
            _statement.PAYLOAD_TYPE, payload, signature, signer.key_hint, signer.certificates
        ),
    )
    return out


def verified_manifest(signature_path: str | os.PathLike[str], verifier: Verifier) -> Manifest:
    """Read a bundle, check its signature, return the manifest it vouches for."""
    parsed = _bundle.read(Path(signature_path))
    verifier.verify(parsed)
    return _statement.decode(parsed.payload)


def verify_model(
    model: str | os.PathLike[str],
    verifier: Verifier,
    *,
    signature_path: str | os.PathLike[str] | None = None,
    ignore_paths: Iterable[str] = (),
    allow_symlinks: bool = False,
    workers: int | None = None,
) -> None:
    """Return None if the signature is good and every file matches; else raise.

    The method, hash and ignore list come from the (authenticated) signature. A symlink
    is an error unless ``allow_symlinks=True``, and one pointing outside the model
    always is. ``ignore_paths`` adds paths to skip (as model_signing's option does).
    """
    root = Path(model)
    sig = Path(signature_path) if signature_path is not None else default_signature_path(root)
    parsed = _bundle.read(sig)
    # The files are hashed as the statement says while its signature is checked (key
    # loading and imports take as long as hashing a few hundred MB); nothing is compared
    # and nothing passes until the check has accepted these very bytes.
    expected = _statement.decode(parsed.payload)
    checked = False

    def check_signature() -> None:
        nonlocal checked
        verifier.verify(parsed)
        checked = True

    extra = list(ignore_paths)
    sig_rel = _inside(root, sig)
    if sig_rel is not None:
        extra.append(sig_rel)
    wanted = expected.serialization
    serialization = serialization_for(
        method=wanted.method,
        hash_type=wanted.hash_type,
        shard_size=wanted.shard_size or DEFAULT_SHARD_SIZE,
        allow_symlinks=allow_symlinks,
        ignore_paths=wanted.ignore_paths,
    )
    actual = hash_model(
        root,
        serialization,
        # Git files are left out only when the signer left them out (then they are in
        # the signed ignore list, as model_signing records them).
        extra_ignores=default_ignores(root, extra, ignore_git_paths=False),
        workers=workers,
        meanwhile=check_signature,
    )
    if not checked:  # never compare against a statement whose signature was not checked
        check_signature()
    check(expected, actual)
