"""``bastion doctor``: patch hygiene for the environment that loads models (installed
versions against a shipped advisory list, offline) and a check of the server's own
configuration. See docs/doctor.md."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from sqlalchemy import Engine

from bastion.config import ServerSettings
from bastion.doctor.advisories import (
    ML_PACKAGES,
    Advisory,
    VulnerablePackage,
    installed_versions,
    load_advisories,
    match,
)
from bastion.doctor.checks import Finding, check_server

__all__ = [
    "Advisory",
    "DoctorReport",
    "Finding",
    "VulnerablePackage",
    "diagnose",
    "load_advisories",
]

DISTRIBUTION = "bastion-ml"


@dataclass(frozen=True, slots=True)
class DoctorReport:
    installed: dict[str, str]  # every package checked that is installed -> version
    advisories: int  # entries in the advisory list used
    vulnerable: tuple[VulnerablePackage, ...]
    findings: tuple[Finding, ...]

    @property
    def clean(self) -> bool:
        return not self.vulnerable and not self.findings


def server_dependencies() -> list[str]:
    """The distributions Bastion itself requires (its runtime, not its extras)."""
    try:
        requires = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    names = []
    for line in requires:
        if "extra ==" in line:
            continue
        found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if found:
            names.append(found.group(0))
    return names


def diagnose(
    *,
    settings: ServerSettings | None = None,
    engine: Engine | None = None,
    advisories_file: Path | None = None,
) -> DoctorReport:
    """Check installed packages against the advisories; with ``settings``, the server too."""
    advisories = load_advisories(advisories_file)
    names = [*ML_PACKAGES, *server_dependencies(), *(a.package for a in advisories)]
    installed = installed_versions(dict.fromkeys(names))
    vulnerable = tuple(match(advisories, installed))
    findings = tuple(check_server(settings, engine)) if settings is not None else ()
    return DoctorReport(installed, len(advisories), vulnerable, findings)
