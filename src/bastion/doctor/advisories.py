"""Known vulnerabilities of the packages that load models, matched against what is
installed. Versions are read with importlib.metadata; nothing checked is ever imported
(importing a vulnerable ML library can itself be the risk)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from bastion.errors import ConfigError

__all__ = [
    "ML_PACKAGES",
    "Advisory",
    "VulnerablePackage",
    "installed_versions",
    "load_advisories",
    "match",
]

FORMAT = "bastion-advisories/1"
#: The libraries that load models; the server's own dependencies are added at run time.
ML_PACKAGES = (
    "torch",
    "transformers",
    "keras",
    "tensorflow",
    "onnx",
    "onnxruntime",
    "llama-cpp-python",
    "safetensors",
    "numpy",
    "joblib",
)
_SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    package: str  # canonical distribution name
    affected: SpecifierSet
    fixed: str | None
    severity: str
    summary: str


@dataclass(frozen=True, slots=True)
class VulnerablePackage:
    package: str
    version: str
    advisory: Advisory


def _parse(raw: Mapping[str, object]) -> Advisory:
    severity = str(raw.get("severity", "high")).lower()
    if severity not in _SEVERITIES:
        raise ValueError(f"unknown severity {severity!r}")
    aliases = raw.get("aliases", [])
    if not isinstance(aliases, list):
        raise ValueError("aliases must be a list")
    fixed = raw.get("fixed")
    return Advisory(
        id=str(raw["id"]),
        aliases=tuple(str(a) for a in aliases),
        package=canonicalize_name(str(raw["package"])),
        affected=SpecifierSet(str(raw["affected"]), prereleases=True),
        fixed=None if fixed is None else str(fixed),
        severity=severity,
        summary=str(raw.get("summary", "")),
    )


def load_advisories(path: Path | None = None) -> tuple[Advisory, ...]:
    """The shipped list, or the one in ``path`` (to refresh it without an upgrade)."""
    try:
        if path is None:
            text = resources.files("bastion.doctor").joinpath("data/advisories.json").read_text()
        else:
            text = path.read_text(encoding="utf-8")
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ValueError(f"not a {FORMAT} document")
        items = doc["advisories"]
        if not isinstance(items, list):
            raise ValueError("advisories must be a list")
        return tuple(_parse(item) for item in items)
    except (OSError, ValueError, KeyError, TypeError, InvalidSpecifier) as exc:
        where = path or "the shipped advisory list"
        raise ConfigError(f"cannot read advisories from {where}: {exc}") from None


def installed_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed version of each named distribution that is installed (never imported)."""
    found: dict[str, str] = {}
    for name in names:
        try:
            found[canonicalize_name(name)] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def match(advisories: Iterable[Advisory], installed: Mapping[str, str]) -> list[VulnerablePackage]:
    """Every (package, advisory) pair whose installed version is in the affected range."""
    hits: list[VulnerablePackage] = []
    for advisory in advisories:
        version = installed.get(advisory.package)
        if version is None:
            continue
        try:
            parsed = Version(version)
        except InvalidVersion:
            continue
        if advisory.affected.contains(parsed, prereleases=True):
            hits.append(VulnerablePackage(advisory.package, version, advisory))
    return sorted(hits, key=lambda h: (h.package, h.advisory.id))
