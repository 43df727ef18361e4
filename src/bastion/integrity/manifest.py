"""Manifests: what was hashed, how, and to which digests; and how two manifests differ.

A manifest is a manifest: a model folder, a dataset folder, one file. Names and digest
labels follow OpenSSF model signing (``model_signing`` 1.x) exactly:

- ``files`` method: one resource per file, named by its POSIX path relative to the
  model root (``"."`` when the model is a single file), algorithm ``sha256``/``blake3``;
- ``shards`` method: one resource per shard, named ``path:start:end``, algorithm
  ``sha256-sharded-<shard_size>``; empty files have no shard.

Resources are ordered as model_signing orders them (by path components, then offsets),
and the subject digest is SHA-256 over the concatenated resource digests in that order.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bastion.crypto.digests import ALGORITHMS, Algorithm
from bastion.errors import VerificationError

Method = Literal["files", "shards"]
METHODS: tuple[Method, ...] = ("files", "shards")
#: model_signing's default shard size (1 GB, decimal).
DEFAULT_SHARD_SIZE = 1_000_000_000
#: What model_signing ignores by default, at the model root.
GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")


@dataclass(frozen=True, slots=True)
class Serialization:
    """How a manifest was made; recorded in the signature so a verifier can redo it."""

    method: Method = "files"
    hash_type: Algorithm = "sha256"
    allow_symlinks: bool = False
    shard_size: int | None = None
    ignore_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown serialization method {self.method!r}")
        if self.hash_type not in ALGORITHMS:
            raise ValueError(f"unsupported hash type {self.hash_type!r}")
        if self.method == "shards" and (self.shard_size is None or self.shard_size <= 0):
            raise ValueError("the shards method needs a positive shard_size")

    @property
    def item_algorithm(self) -> str:
        """The ``algorithm`` label each resource carries."""
        if self.method == "shards":
            return f"{self.hash_type}-sharded-{self.shard_size}"
        return self.hash_type

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "hash_type": self.hash_type}
        if self.method == "shards":
            out["shard_size"] = self.shard_size
        out["allow_symlinks"] = self.allow_symlinks
        if self.ignore_paths:
            out["ignore_paths"] = list(self.ignore_paths)
        return out


@dataclass(frozen=True, slots=True)
class Resource:
    """One hashed object: a file (``files``) or a file shard (``shards``)."""

    name: str
    algorithm: str
    digest: bytes

    @property
    def path(self) -> str:
        """The file this resource belongs to (the name without ``:start:end``)."""
        if self.algorithm.partition("-sharded-")[1]:
            return self.name.rsplit(":", 2)[0]
        return self.name


def sort_key(name: str, sharded: bool) -> tuple[Any, ...]:
    """model_signing's order: PurePosixPath compares by components, shards by offsets."""
    if sharded:
        path, start, end = name.rsplit(":", 2)
        return (tuple(path.split("/")), int(start), int(end))
    return (tuple(name.split("/")),)


@dataclass(frozen=True, slots=True)
class Manifest:
    """A model's name (informative only), how it was hashed, and its resources in order."""

    model_name: str
    serialization: Serialization
    resources: tuple[Resource, ...] = field(default=())

    @classmethod
    def build(
        cls, model_name: str, serialization: Serialization, resources: Iterable[Resource]
    ) -> Manifest:
        sharded = serialization.method == "shards"
        ordered = sorted(resources, key=lambda r: sort_key(r.name, sharded))
        return cls(model_name, serialization, tuple(ordered))

    def root_digest(self) -> bytes:
        """SHA-256 over every resource digest, in order: the in-toto subject's digest."""
        hasher = hashlib.sha256()
        for resource in self.resources:
            hasher.update(resource.digest)
        return hasher.digest()

    def by_name(self) -> dict[str, Resource]:
        return {r.name: r for r in self.resources}

    def files(self) -> list[str]:
        """The distinct files named, in order."""
        return list(dict.fromkeys(r.path for r in self.resources))


Change = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class Difference:
    """One file that differs between the signed manifest and the files on disk."""

    path: str
    change: Change

    def __str__(self) -> str:
        return f"{self.change}: {self.path}"


class ModelMismatchError(VerificationError):
    """The files on disk are not the files that were signed. ``differences`` names each."""

    hint = "Do not load the model: a file was added, removed or changed after signing."

    def __init__(self, differences: Iterable[Difference]) -> None:
        self.differences = tuple(differences)
        lines = "\n".join(f"  {d}" for d in self.differences)
        super().__init__(f"{len(self.differences)} file(s) differ from the signature:\n{lines}")


def diff(expected: Manifest, actual: Manifest) -> list[Difference]:
    """Every file that was added, removed or changed; empty when the two match.

    Digests are compared in constant time; algorithm labels must match too.
    """
    want: Mapping[str, Resource] = expected.by_name()
    have: Mapping[str, Resource] = actual.by_name()
    changes: dict[str, Change] = {}
    want_files = {r.path for r in want.values()}
    have_files = {r.path for r in have.values()}
    for path in have_files - want_files:
        changes[path] = "added"
    for path in want_files - have_files:
        changes[path] = "removed"
    for name in want.keys() | have.keys():
        a, b = want.get(name), have.get(name)
        path = (a or b).path  # type: ignore[union-attr]
        if path in changes:
            continue
        if (
            a is None
            or b is None
            or a.algorithm != b.algorithm
            or not hmac.compare_digest(a.digest, b.digest)
        ):
            changes[path] = "changed"
    return [Difference(p, changes[p]) for p in sorted(changes, key=lambda p: p.split("/"))]


def check(expected: Manifest, actual: Manifest) -> None:
    """Return None when ``actual`` matches ``expected``; else raise ModelMismatchError."""
    differences = diff(expected, actual)
    if differences:
        raise ModelMismatchError(differences)
