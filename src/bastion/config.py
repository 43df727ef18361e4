"""One typed settings object, read from a TOML file and ``BASTION_*`` variables.

Settings are passed explicitly to whatever needs them; there is no global
configuration. Precedence: defaults < TOML file < environment.

The ``[scan]`` section is defined here; the server-side sections and :class:`Settings`
are in :mod:`bastion._settings` and re-exported from here on first use, so that
``bastion scan`` (:func:`load_scan_settings`) never builds them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.errors import ConfigError
from bastion.models import Severity

if TYPE_CHECKING:
    from bastion._settings import AlertSettings, AuthSettings, ServerSettings, Settings, SsoSettings

__all__ = [
    "AlertSettings",
    "AuthSettings",
    "ScanLimits",
    "ScanSettings",
    "ServerSettings",
    "Settings",
    "SsoSettings",
    "load_scan_settings",
    "read_settings_file",
    "scan_section",
]
_ELSEWHERE = frozenset(
    {"AlertSettings", "AuthSettings", "ServerSettings", "Settings", "SsoSettings"}
)


def __getattr__(name: str) -> Any:
    if name in _ELSEWHERE:
        from bastion import _settings

        return getattr(_settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True, slots=True)
class ScanLimits:
    """Safety bounds that keep hostile files from exhausting time or memory."""

    max_pickle_stack: int = 1_000_000
    max_memo_entries: int = 200_000
    max_archive_depth: int = 8
    max_archive_members: int = 100_000
    max_member_size: int = 64 * 2**30
    max_compression_ratio: float = 200.0
    max_decompressed_total: int = 64 * 2**30
    max_npy_header: int = 1 << 20


@dataclass(frozen=True, slots=True)
class ScanSettings:
    fail_on: Severity = Severity.MEDIUM
    workers: int = 0  # 0: one per CPU core
    policy_files: tuple[Path, ...] = ()
    plugins: bool = False  # load third-party scanners from the bastion.scanners entry point
    limits: ScanLimits = field(default_factory=ScanLimits)


def _scan_settings(raw: Mapping[str, Any]) -> ScanSettings:
    known = {f.name for f in fields(ScanSettings)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown [scan] settings: {', '.join(sorted(unknown))}")
    try:
        limits_raw = dict(raw.get("limits", {}))
        limits = dataclasses.replace(ScanLimits(), **limits_raw)
        return ScanSettings(
            fail_on=Severity.parse(str(raw.get("fail_on", "medium"))),
            workers=int(raw.get("workers", 0)),
            policy_files=tuple(Path(p) for p in raw.get("policy_files", ())),
            plugins=bool(raw.get("plugins", False)),
            limits=limits,
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid [scan] settings: {exc}") from exc


def read_settings_file(path: Path | None) -> dict[str, Any]:
    """The parsed settings TOML, or an empty table without a file."""
    if path is None:
        return {}
    import tomllib  # only with a settings file: most commands run without one

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read settings file {path}: {exc}") from exc


def scan_section(data: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """``[scan]`` with the ``BASTION_SCAN_*`` variables applied over it."""
    scan = dict(data.get("scan", {}))
    if "BASTION_SCAN_FAIL_ON" in env:
        scan["fail_on"] = env["BASTION_SCAN_FAIL_ON"]
    if "BASTION_SCAN_WORKERS" in env:
        scan["workers"] = env["BASTION_SCAN_WORKERS"]
    if "BASTION_SCAN_POLICY" in env:
        scan["policy_files"] = [p for p in env["BASTION_SCAN_POLICY"].split(os.pathsep) if p]
    return scan


def load_scan_settings(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> ScanSettings:
    """``Settings.load(path, environ=environ).scan``, without building the other sections."""
    env = os.environ if environ is None else environ
    return _scan_settings(scan_section(read_settings_file(path), env))
