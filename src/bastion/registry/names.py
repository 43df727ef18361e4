"""Names and paths that come from clients are checked here, before anything uses them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bastion.registry.errors import BadRequest

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_COMPONENT = re.compile(r"[^\x00-\x1f\x7f/\\:*?\"<>|]{1,255}")
MAX_PATH = 1024


def check_name(value: str, what: str) -> str:
    """A namespace or model name: lowercase letters, digits, '.', '_', '-'."""
    if not _NAME.fullmatch(value) or ".." in value:
        raise BadRequest(
            f"invalid {what} name {value[:80]!r}: 1 to 64 lowercase letters, digits, '.', '_', '-'"
        )
    return value


def check_version(value: str) -> str:
    if not _VERSION.fullmatch(value) or ".." in value:
        raise BadRequest(
            f"invalid version {value[:80]!r}: 1 to 128 letters, digits, '.', '_', '+', '-'"
        )
    return value


def check_path(value: str) -> str:
    """A file path inside a model: relative, '/'-separated, no '.', '..' or empty parts."""
    if not value or len(value) > MAX_PATH or value.startswith("/"):
        raise BadRequest(f"invalid file path {value[:80]!r}: a relative path inside the model")
    for part in value.split("/"):
        if part in ("", ".", "..") or not _COMPONENT.fullmatch(part):
            raise BadRequest(f"invalid file path {value[:80]!r}: bad component {part[:40]!r}")
    return value


@dataclass(frozen=True, slots=True)
class Ref:
    """``namespace/model:version`` as the CLI writes it."""

    namespace: str
    model: str
    version: str | None = None

    @classmethod
    def parse(cls, text: str, *, need_version: bool = True) -> Ref:
        head, sep, version = text.partition(":")
        namespace, slash, model = head.partition("/")
        if not slash:
            raise BadRequest(f"expected NAMESPACE/MODEL:VERSION, got {text[:80]!r}")
        if need_version and not sep:
            raise BadRequest(f"{text[:80]!r} has no :VERSION")
        return cls(
            check_name(namespace, "namespace"),
            check_name(model, "model"),
            check_version(version) if sep else None,
        )

    def __str__(self) -> str:
        tail = f":{self.version}" if self.version else ""
        return f"{self.namespace}/{self.model}{tail}"
