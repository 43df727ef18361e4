"""The pickle policy: an allowlist of globals, and deny groups of known-dangerous ones.

The policy is data: ``data/policy.toml`` (written by people; the scanner reads its
JSON copy ``data/policy.json``, written by ``scripts/compile_policy.py``, because the
JSON parser costs a fraction of what ``tomllib`` does at every start) and
``data/allow-generated.json`` (written by ``scripts/gen_allowlist.py``); users add to
it with their own TOML files. Deny always wins over allow, and a user file cannot
remove a deny entry.

Patterns are globs. Most are exact names or ``module.*``, which are matched with set
look-ups of each dotted prefix; only the few other globs become regular expressions.
That keeps loading the policy (once per process, and processes start per scan) cheap.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from bastion.errors import PolicyError
from bastion.models import Severity

POLICY_VERSION = 1
DATA = Path(__file__).with_name("data")  # importlib.resources costs 15 ms to import


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy says of one global."""

    allowed: bool
    severity: Severity | None = None  # set when a deny group matched
    reason: str = ""


ALLOWED = Decision(allowed=True)
UNKNOWN = Decision(allowed=False)
DUNDER = Decision(
    allowed=False,
    severity=Severity.CRITICAL,
    reason="walks dunder attributes (__globals__, __builtins__, ...) to interpreter internals",
)
_DUNDER = re.compile(r"__\w+__")


@dataclass(slots=True)
class _Globs:
    """A set of glob patterns over dotted paths, matched without a regex where possible."""

    exact: set[str] = field(default_factory=set)
    prefixes: set[str] = field(default_factory=set)  # "torch.hub" for "torch.hub.*"
    other: list[str] = field(default_factory=list)
    _regex: re.Pattern[str] | None = None

    def add(self, pattern: str) -> None:
        body = pattern[:-2]
        if not _is_glob(pattern):
            self.exact.add(pattern)
        elif pattern.endswith(".*") and not _is_glob(body):
            self.prefixes.add(body)
        else:
            self.other.append(pattern)
            self._regex = None

    def match(self, path: str) -> bool:
        if path in self.exact:
            return True
        if self.prefixes:
            dot = path.find(".")
            while dot > 0:
                if path[:dot] in self.prefixes:
                    return True
                dot = path.find(".", dot + 1)
        if self.other:
            if self._regex is None:
                self._regex = _compile(self.other)
            return self._regex.fullmatch(path) is not None
        return False


@dataclass(slots=True)
class _DenyGroup:
    globs: _Globs
    severity: Severity
    reason: str


class Policy:
    """Decides, for a ``module`` and ``name`` a pickle imports, whether that is allowed."""

    def __init__(
        self,
        allow: dict[str, list[str]],
        deny: list[_DenyGroup],
        sources: tuple[str, ...],
        aliases: dict[str, str] | None = None,
    ) -> None:
        self._aliases = dict(aliases or {})
        self._exact: dict[str, set[str]] = {}
        globs: list[tuple[str, list[str]]] = []
        for module, names in allow.items():
            plain = [n for n in names if not _is_glob(n)]
            if not _is_glob(module) and plain:
                self._exact.setdefault(module, set()).update(plain)
            patterned = names if _is_glob(module) else [n for n in names if _is_glob(n)]
            if patterned:
                globs.append((module, patterned))
        self._glob_specs = globs
        self._globs: list[tuple[re.Pattern[str], re.Pattern[str]]] | None = None
        self._deny = tuple(deny)
        self.sources = sources
        self.decide = lru_cache(maxsize=4096)(self._decide)

    def _decide(self, module: str, name: str) -> Decision:
        if any(_DUNDER.fullmatch(part) for part in name.split(".")):
            return DUNDER
        candidates = _paths(module, name)
        origin = self._aliases.get(f"{module}.{name}")
        if origin is not None:  # a name a package merely re-exports: judge what it is
            candidates.append(origin)
        worst: _DenyGroup | None = None
        for candidate in candidates:
            for group in self._deny:
                if (worst is None or group.severity > worst.severity) and group.globs.match(
                    candidate
                ):
                    worst = group
        if worst is not None:
            reason = worst.reason if origin is None else f"{worst.reason}; it is {origin}"
            return Decision(allowed=False, severity=worst.severity, reason=reason)
        if name in self._exact.get(module, ()):
            return ALLOWED
        if self._globs is None:
            self._globs = [
                (_compile([m]), _compile(n, cross_dots=False)) for m, n in self._glob_specs
            ]
        for module_re, name_re in self._globs:
            if module_re.fullmatch(module) and name_re.fullmatch(name):
                return ALLOWED
        return UNKNOWN

    def preload(self) -> None:
        """Read a lazily loaded policy now (before worker processes fork and share it)."""
        if "_exact" not in self.__dict__:
            self.decide("builtins", "object")  # the first decision reads the files

    @classmethod
    def load(cls, *extra: Path, generated: bool = True) -> Policy:
        """The shipped default policy, extended by each file in ``extra``.

        ``generated=False`` leaves out the generated class lists (the script that
        writes them needs the deny groups alone). The shipped policy alone is read on
        its first decision: a scan that meets no import (safetensors, a small state
        dict of plain values) never parses it, which is most of a one-file scan's
        start-up. Extra files are read at once, so a bad one is reported before any scan.
        """
        if extra:
            return cls._read(*extra, generated=generated)
        policy = cls.__new__(cls)
        policy.sources = ("default", "generated") if generated else ("default",)

        def first_decision(module: str, name: str) -> Decision:
            policy.__dict__.update(cls._read(generated=generated).__dict__)
            return policy.decide(module, name)

        policy.decide = first_decision  # type: ignore[assignment]
        return policy

    @classmethod
    def _read(cls, *extra: Path, generated: bool = True) -> Policy:
        docs: list[tuple[str, dict[str, Any]]] = [
            ("default", json.loads((DATA / "policy.json").read_text(encoding="utf-8")))
        ]
        if generated:
            text = (DATA / "allow-generated.json").read_text(encoding="utf-8")
            docs.append(("generated", json.loads(text)))
        if extra:
            import tomllib  # users' policies are TOML; the shipped one is read as JSON
        for path in extra:
            try:
                docs.append((str(path), tomllib.loads(path.read_text(encoding="utf-8"))))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                raise PolicyError(f"cannot read policy {path}: {exc}") from exc
        allow: dict[str, list[str]] = {}
        deny: list[_DenyGroup] = []
        aliases: dict[str, str] = {}
        for source, doc in docs:
            _merge(source, doc, allow, deny, aliases)
        return cls(allow, deny, tuple(s for s, _ in docs), aliases)


def _merge(
    source: str,
    doc: dict[str, Any],
    allow: dict[str, list[str]],
    deny: list[_DenyGroup],
    aliases: dict[str, str],
) -> None:
    version = doc.get("version", POLICY_VERSION)
    if version != POLICY_VERSION:
        raise PolicyError(f"{source}: policy version {version!r} is not supported (expected 1)")
    unknown = set(doc) - {"version", "allow", "deny", "alias", "comment", "built_against"}
    if unknown:
        raise PolicyError(f"{source}: unknown policy keys: {', '.join(sorted(unknown))}")
    for module, names in doc.get("allow", {}).items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise PolicyError(f"{source}: allow.{module} must be a list of strings")
        allow.setdefault(module, []).extend(names)
    for alias, origin in doc.get("alias", {}).items():
        if not isinstance(origin, str):
            raise PolicyError(f"{source}: alias.{alias} must be a dotted path string")
        aliases[alias] = origin
    for group in doc.get("deny", []):
        patterns = group.get("patterns")
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            raise PolicyError(f"{source}: every [[deny]] needs patterns = [strings]")
        try:
            severity = Severity.parse(str(group.get("severity", "critical")))
        except ValueError as exc:
            raise PolicyError(f"{source}: {exc}") from exc
        globs = _Globs()
        for pattern in patterns:
            globs.add(pattern)
        deny.append(_DenyGroup(globs, severity, str(group.get("reason", "denied by policy"))))


def _paths(module: str, name: str) -> list[str]:
    """The full dotted path, plus every re-rooting inside a dotted ``name``.

    ``find_class`` walks a dotted name attribute by attribute, so
    ``torch.nn.modules.module`` + ``os.system`` reaches ``os.system``.
    """
    parts = name.split(".")
    return [f"{module}.{name}", *(".".join(parts[i:]) for i in range(len(parts) - 1))]


def _is_glob(text: str) -> bool:
    # Called for each of the ~3,000 allowed names at every start: no generator here.
    return "*" in text or "?" in text or "[" in text


def _compile(patterns: list[str], *, cross_dots: bool = True) -> re.Pattern[str]:
    parts = [fnmatch.translate(p) for p in patterns]
    if not cross_dots:  # "[A-Z]*" must not allow "Path.write_text"
        parts = [p.replace(".*", "[^.]*") for p in parts]
    return re.compile("|".join(f"(?:{p})" for p in parts))
