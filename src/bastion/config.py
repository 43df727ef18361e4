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
class AuthSettings:
    """Identity: password hashing, policy, MFA, sessions and login throttling.

    The Argon2id defaults are RFC 9106's second recommended option (t=3, 64 MiB, p=4):
    about 50 ms on one server core. Changing them rehashes each password at its next login.
    """

    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 4
    min_password_length: int = 12
    mfa_required_for_all: bool = False  # admin and auditor always need MFA
    totp_issuer: str = "Bastion"
    session_ttl_seconds: int = 3600
    enrol_session_ttl_seconds: int = 15 * 60  # a session that can only enrol MFA
    # throttling, per account and per source address
    free_failures: int = 3  # failures before backoff starts
    backoff_base_seconds: float = 1.0  # doubles with each failure after the free ones
    backoff_max_seconds: float = 300.0
    lockout_failures: int = 10  # per account; then locked until an unlock or the timeout
    lockout_seconds: int = 900
    source_lockout_failures: int = 50  # per source address
    failure_window_seconds: int = 3600  # failures older than this are forgotten


@dataclass(frozen=True, slots=True)
class Settings:
    scan: ScanSettings = field(default_factory=ScanSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)

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
        auth = dict(data.get("auth", {}))
        for f in fields(AuthSettings):
            key = f"BASTION_AUTH_{f.name.upper()}"
            if key in env:
                auth[f.name] = env[key]
        return cls(scan=_scan_settings(scan), auth=_auth_settings(auth))


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


def _auth_settings(raw: Mapping[str, Any]) -> AuthSettings:
    known = {f.name: f for f in fields(AuthSettings)}
    unknown = set(raw) - set(known)
    if unknown:
        raise ConfigError(f"unknown [auth] settings: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    try:
        for name, value in raw.items():
            default = known[name].default
            if isinstance(default, bool):
                values[name] = _boolean(value)
            elif isinstance(default, int | float | str):
                values[name] = type(default)(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid [auth] settings: {exc}") from exc
    settings = AuthSettings(**values)
    if settings.min_password_length < 8 or settings.argon2_memory_kib < 8 * max(
        1, settings.argon2_parallelism
    ):
        raise ConfigError(
            "invalid [auth] settings: min_password_length must be at least 8 and "
            "argon2_memory_kib at least 8 x argon2_parallelism"
        )
    return settings


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"not a boolean: {value!r}")
