"""The pickle policy: an allowlist of globals, and deny groups of known-dangerous ones.

The policy is data (``data/policy.toml``); users add to it with their own TOML files.
Deny always wins over allow, and a user file cannot remove a deny entry.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from bastion.errors import PolicyError
from bastion.models import Severity

POLICY_VERSION = 1


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


@dataclass(frozen=True, slots=True)
class _DenyGroup:
    pattern: re.Pattern[str]
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
        self._exact: dict[str, frozenset[str]] = {}
        globs: list[tuple[re.Pattern[str], re.Pattern[str]]] = []
        for module, names in allow.items():
            plain = [n for n in names if not _is_glob(n)]
            if not _is_glob(module) and plain:
                self._exact[module] = self._exact.get(module, frozenset()) | frozenset(plain)
            patterned = names if _is_glob(module) else [n for n in names if _is_glob(n)]
            if patterned:
                globs.append((_compile([module]), _compile(patterned, cross_dots=False)))
        self._globs = tuple(globs)
        self._deny = tuple(deny)
        self.sources = sources
        self.decide = lru_cache(maxsize=4096)(self._decide)

    def _decide(self, module: str, name: str) -> Decision:
        if any(_DUNDER.fullmatch(part) for part in name.split(".")):
            return DUNDER
        worst: _DenyGroup | None = None
        candidates = _paths(module, name)
        origin = self._aliases.get(f"{module}.{name}")
        if origin is not None:  # a name a package merely re-exports: judge what it is
            candidates.append(origin)
        for candidate in candidates:
            for group in self._deny:
                if group.pattern.fullmatch(candidate) and (
                    worst is None or group.severity > worst.severity
                ):
                    worst = group
        if worst is not None:
            reason = worst.reason if origin is None else f"{worst.reason}; it is {origin}"
            return Decision(allowed=False, severity=worst.severity, reason=reason)
        if name in self._exact.get(module, ()):
            return ALLOWED
        for module_re, name_re in self._globs:
            if module_re.fullmatch(module) and name_re.fullmatch(name):
                return ALLOWED
        return UNKNOWN

    @classmethod
    def load(cls, *extra: Path) -> Policy:
        """The shipped default policy, extended by each file in ``extra``."""
        data = Path(__file__).with_name("data")  # importlib.resources costs 15 ms to import
        docs = [
            (label, tomllib.loads((data / name).read_text(encoding="utf-8")))
            for label, name in (("default", "policy.toml"), ("generated", "allow-generated.toml"))
        ]
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
    unknown = set(doc) - {"version", "allow", "deny", "alias"}
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
        reason = str(group.get("reason", "denied by policy"))
        deny.append(_DenyGroup(_compile(patterns), severity, reason))


def _paths(module: str, name: str) -> list[str]:
    """The full dotted path, plus every re-rooting inside a dotted ``name``.

    ``find_class`` walks a dotted name attribute by attribute, so
    ``torch.nn.modules.module`` + ``os.system`` reaches ``os.system``.
    """
    parts = name.split(".")
    return [f"{module}.{name}", *(".".join(parts[i:]) for i in range(len(parts) - 1))]


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def _compile(patterns: list[str], *, cross_dots: bool = True) -> re.Pattern[str]:
    parts = [fnmatch.translate(p) for p in patterns]
    if not cross_dots:  # "[A-Z]*" must not allow "Path.write_text"
        parts = [p.replace(".*", "[^.]*") for p in parts]
    return re.compile("|".join(f"(?:{p})" for p in parts))
