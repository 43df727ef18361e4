"""One typed settings object, read from a TOML file and ``BASTION_*`` variables.

Settings are passed explicitly to whatever needs them; there is no global
configuration. Precedence: defaults < TOML file < environment.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bastion.errors import ConfigError
from bastion.models import Severity


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


@dataclass(frozen=True, slots=True)
class Settings:
    scan: ScanSettings = field(default_factory=ScanSettings)

    @classmethod
    def load(
        cls, path: Path | None = None, *, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Read settings from ``path`` (if given) and ``BASTION_*`` variables."""
        data: dict[str, Any] = {}
        if path is not None:
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read settings file {path}: {exc}") from exc
        env = os.environ if environ is None else environ
        scan = dict(data.get("scan", {}))
        if "BASTION_SCAN_FAIL_ON" in env:
            scan["fail_on"] = env["BASTION_SCAN_FAIL_ON"]
        if "BASTION_SCAN_WORKERS" in env:
            scan["workers"] = env["BASTION_SCAN_WORKERS"]
        if "BASTION_SCAN_POLICY" in env:
            scan["policy_files"] = [p for p in env["BASTION_SCAN_POLICY"].split(os.pathsep) if p]
        return cls(scan=_scan_settings(scan))


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
