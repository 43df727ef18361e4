"""Walk a model (folder or file) and hash it into a :class:`Manifest`.

The walk never follows a symlink out of the model: symlinks are refused unless the
caller allows them, and even then one that resolves outside the model root is an error.
Special files (FIFOs, sockets, devices) are errors. Files under ignored paths are skipped.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bastion.crypto.digests import Algorithm, Range, digest_ranges, shard_bounds
from bastion.errors import VerificationError
from bastion.integrity.manifest import (
    DEFAULT_SHARD_SIZE,
    GIT_PATHS,
    Manifest,
    Method,
    Resource,
    Serialization,
)


class ModelPathError(VerificationError):
    """The model holds something that cannot be hashed safely (a link out, a FIFO...)."""

    hint = "Remove the link or special file, or copy the real file into the model."


@dataclass(frozen=True, slots=True)
class ModelFile:
    """A file to hash: its name in the manifest and the real path to read."""

    name: str
    path: str
    size: int


def model_name(model: Path) -> str:
    """model_signing's model name: the last path component (resolved for ``.``/``..``)."""
    name = model.name
    if not name or name == "..":
        name = os.path.basename(model.resolve())
    return name


def _ignored(parts: tuple[str, ...], ignores: Sequence[tuple[str, ...]]) -> bool:
    return any(parts[: len(ig)] == ig for ig in ignores if ig)


def _split(rel: str) -> tuple[str, ...]:
    return tuple(p for p in Path(rel).as_posix().split("/") if p not in ("", "."))


def _resolve_link(full: str, root: str, name: str) -> tuple[str, os.stat_result]:
    target = os.path.realpath(full)
    if os.path.commonpath([target, root]) != root:
        raise ModelPathError(f"{name}: symlink points outside the model")
    try:
        st = os.stat(target)
    except OSError:
        raise ModelPathError(f"{name}: broken symlink") from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelPathError(f"{name}: symlink to something that is not a regular file")
    return target, st


def iter_model_files(
    model: Path, *, ignore_paths: Iterable[str] = (), allow_symlinks: bool = False
) -> Iterator[ModelFile]:
    """Every file of the model, with its manifest name; raise on links out and specials."""
    root = os.path.realpath(model)
    try:
        top = os.lstat(model)
    except OSError as exc:
        raise ModelPathError(f"{model}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(top.st_mode) and not allow_symlinks:
        raise ModelPathError(f"{model}: the model path is a symlink (allow_symlinks is off)")
    if stat.S_ISREG(os.stat(model).st_mode):
        yield ModelFile(".", str(model), os.stat(model).st_size)
        return
    if not stat.S_ISDIR(os.stat(model).st_mode):
        raise ModelPathError(f"{model}: neither a file nor a folder")
    ignores = [_split(p) for p in ignore_paths]
    stack: list[tuple[str, tuple[str, ...]]] = [(root, ())]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            raise ModelPathError(f"{folder}: cannot list: {exc.strerror or exc}") from None
        for entry in entries:
            parts = (*prefix, entry.name)
            if _ignored(parts, ignores):
                continue
            name = "/".join(parts)
            st = entry.stat(follow_symlinks=False)
            path = entry.path
            if stat.S_ISLNK(st.st_mode):
                if not allow_symlinks:
                    raise ModelPathError(f"{name}: symlink (allow_symlinks is off)")
                path, st = _resolve_link(entry.path, root, name)
            if stat.S_ISDIR(st.st_mode):
                stack.append((entry.path, parts))
            elif stat.S_ISREG(st.st_mode):
                yield ModelFile(name, path, st.st_size)
            else:
                raise ModelPathError(f"{name}: not a regular file or folder")


def default_ignores(
    model: Path, ignore_paths: Iterable[str], *, ignore_git_paths: bool
) -> tuple[str, ...]:
    """The ignore list recorded in a signature: the caller's, plus git files by default.

    Paths that are absolute or outside the model are dropped (as model_signing does).
    """
    out: list[str] = []
    base = model.resolve() if model.is_dir() else None
    for raw in ignore_paths:
        p = Path(raw)
        if p.is_absolute():
            if base is None:
                continue
            try:
                p = p.resolve().relative_to(base)
            except ValueError:
                continue
        parts = _split(str(p))
        if not parts or ".." in parts:
            continue
        out.append("/".join(parts))
    if ignore_git_paths:
        out.extend(GIT_PATHS)
    return tuple(sorted(set(out)))


def hash_model(
    model: Path,
    serialization: Serialization,
    *,
    extra_ignores: Iterable[str] = (),
    workers: int | None = None,
    on_done: Callable[[Range], None] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Manifest:
    """Hash the model as ``serialization`` says; files and shards in parallel.
    ``meanwhile`` runs while the files hash (see :func:`digest_ranges`)."""
    ignores = (*serialization.ignore_paths, *extra_ignores)
    files = list(
        iter_model_files(model, ignore_paths=ignores, allow_symlinks=serialization.allow_symlinks)
    )
    names: list[str] = []
    ranges: list[Range] = []
    for f in files:
        if serialization.method == "shards":
            assert serialization.shard_size is not None
            if ":" in f.name:
                raise ModelPathError(f"{f.name}: ':' in a file name cannot be sharded")
            for start, end in shard_bounds(f.size, serialization.shard_size):
                names.append(f"{f.name}:{start}:{end}")
                ranges.append(Range(f.path, start, end, f.size))
        else:
            names.append(f.name)
            ranges.append(Range(f.path, 0, f.size, f.size))
    digests = digest_ranges(
        ranges, serialization.hash_type, workers=workers, on_done=on_done, meanwhile=meanwhile
    )
    label = serialization.item_algorithm
    return Manifest.build(
        model_name(model),
        serialization,
        (Resource(n, label, d) for n, d in zip(names, digests, strict=True)),
    )


def serialization_for(
    *,
    method: Method = "files",
    hash_type: Algorithm = "sha256",
    shard_size: int = DEFAULT_SHARD_SIZE,
    allow_symlinks: bool = False,
    ignore_paths: Sequence[str] = (),
) -> Serialization:
    """A Serialization as model_signing would record it (BLAKE3 is never sharded)."""
    if hash_type == "blake3":
        method = "files"
    return Serialization(
        method=method,
        hash_type=hash_type,
        allow_symlinks=allow_symlinks,
        shard_size=shard_size if method == "shards" else None,
        ignore_paths=tuple(ignore_paths),
    )
