"""The server-side sections of the settings (``[server]``, ``[alerts]``, ``[auth]``, ``[sso]``)
and :class:`Settings`, which holds every section.

They live apart from :mod:`bastion.config` (which re-exports them) so that a command that
needs only ``[scan]``, such as ``bastion scan``, does not build these classes at start-up:
each frozen dataclass costs most of a millisecond to create, and scans run in loops,
hooks and CI jobs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from bastion.config import ScanSettings, _scan_settings, read_settings_file, scan_section
from bastion.errors import ConfigError


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """``bastion up``: where data lives, where to listen, TLS and limits."""

    data_dir: Path = field(default_factory=lambda: Path("~/.bastion").expanduser())
    database_url: str | None = None  # None: SQLite in the data directory
    host: str = "127.0.0.1"
    port: int = 8443
    client_ca: Path | None = None  # mTLS: client certificates must chain to this CA
    insecure_http: bool = False  # plain HTTP, only when the operator asks for it
    max_file_size: int = 64 * 2**30
    # Key-encryption key: a 0600 file in the data directory, or a PKCS#11 token (HSM) whose
    # PIN comes only from $BASTION_PKCS11_PIN.
    pkcs11_module: str | None = None
    pkcs11_token: str | None = None
    pkcs11_key_id: str = "bastion-kek"


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """``[alerts]``: rules evaluated on the audit event stream, and where alerts go."""

    login_failures: int = 5  # failures per actor and source within the window
    login_window: float = 300.0  # seconds
    download_factor: float = 10.0  # alert above this multiple of a principal's baseline
    download_min: int = 50  # ... and at least this many downloads in one window
    download_window: float = 3600.0  # seconds per baseline window
    download_alpha: float = 0.3  # EWMA weight of the newest window
    on_actions: tuple[str, ...] = ("model.release", "key.rotate")  # always alert
    webhook_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)  # or BASTION_ALERTS_WEBHOOK_SECRET


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
class SsoSettings:
    """Single sign-on by OpenID Connect for the web console (``[sso]``); off without an issuer.

    ``group_roles`` maps a provider group to Bastion roles: ``"admin"`` or ``"auditor"``
    (global), or ``"ROLE@NAMESPACE"``. The client secret may come from
    ``$BASTION_SSO_CLIENT_SECRET`` instead of the file.
    """

    issuer: str | None = None
    client_id: str = ""
    client_secret: str | None = field(default=None, repr=False)  # None: a public client
    redirect_uri: str = ""  # https://HOST:PORT/console/login/sso/callback
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    group_roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.issuer)


@dataclass(frozen=True, slots=True)
class Settings:
    scan: ScanSettings = field(default_factory=ScanSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    sso: SsoSettings = field(default_factory=SsoSettings)

    @classmethod
    def load(
        cls, path: Path | None = None, *, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Read settings from ``path`` (if given) and ``BASTION_*`` variables."""
        data = read_settings_file(path)
        env = os.environ if environ is None else environ
        alerts = dict(data.get("alerts", {}))
        if "BASTION_ALERTS_WEBHOOK_URL" in env:
            alerts["webhook_url"] = env["BASTION_ALERTS_WEBHOOK_URL"]
        if "BASTION_ALERTS_WEBHOOK_SECRET" in env:
            alerts["webhook_secret"] = env["BASTION_ALERTS_WEBHOOK_SECRET"]
        auth = dict(data.get("auth", {}))
        for f in fields(AuthSettings):
            key = f"BASTION_AUTH_{f.name.upper()}"
            if key in env:
                auth[f.name] = env[key]
        return cls(
            scan=_scan_settings(scan_section(data, env)),
            server=_server_settings(data.get("server", {}), env),
            alerts=_alert_settings(alerts),
            auth=_auth_settings(auth),
            sso=_sso_settings(data.get("sso", {}), env),
        )


def _sso_settings(raw: Mapping[str, Any], env: Mapping[str, str]) -> SsoSettings:
    unknown = set(raw) - {f.name for f in fields(SsoSettings)}
    if unknown:
        raise ConfigError(f"unknown [sso] settings: {', '.join(sorted(unknown))}")
    values = dict(raw)
    if "BASTION_SSO_CLIENT_SECRET" in env:
        values["client_secret"] = env["BASTION_SSO_CLIENT_SECRET"]
    try:
        if "scopes" in values:
            values["scopes"] = tuple(str(v) for v in values["scopes"])
        if "group_roles" in values:
            values["group_roles"] = {
                str(group): tuple(str(r) for r in roles)
                for group, roles in dict(values["group_roles"]).items()
            }
        result = SsoSettings(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid [sso] settings: {exc}") from exc
    if result.enabled:
        if not result.client_id or not result.redirect_uri.startswith("https://"):
            raise ConfigError(
                "[sso] needs client_id and an https:// redirect_uri",
                hint="The redirect URI is https://HOST:PORT/console/login/sso/callback.",
            )
        if not str(result.issuer).startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise ConfigError("[sso] issuer must be an https:// URL")
    return result


def _alert_settings(raw: Mapping[str, Any]) -> AlertSettings:
    unknown = set(raw) - {f.name for f in fields(AlertSettings)}
    if unknown:
        raise ConfigError(f"unknown [alerts] settings: {', '.join(sorted(unknown))}")
    values = dict(raw)
    if "on_actions" in values:
        values["on_actions"] = tuple(str(a) for a in values["on_actions"])
    try:
        result = dataclasses.replace(AlertSettings(), **values)
        for name in ("login_failures", "download_min"):
            if int(getattr(result, name)) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("login_window", "download_factor", "download_window", "download_alpha"):
            if float(getattr(result, name)) <= 0:
                raise ValueError(f"{name} must be positive")
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid [alerts] settings: {exc}") from exc
    return result


_SERVER_ENV = {
    "BASTION_DATA_DIR": "data_dir",
    "BASTION_DATABASE_URL": "database_url",
    "BASTION_SERVER_HOST": "host",
    "BASTION_SERVER_PORT": "port",
    "BASTION_SERVER_CLIENT_CA": "client_ca",
    "BASTION_SERVER_MAX_FILE_SIZE": "max_file_size",
    "BASTION_PKCS11_MODULE": "pkcs11_module",
    "BASTION_PKCS11_TOKEN": "pkcs11_token",
}


def _server_settings(raw: Mapping[str, Any], env: Mapping[str, str]) -> ServerSettings:
    merged = dict(raw)
    for var, name in _SERVER_ENV.items():
        if env.get(var):
            merged[name] = env[var]
    known = {f.name for f in fields(ServerSettings)}
    unknown = set(merged) - known
    if unknown:
        raise ConfigError(f"unknown [server] settings: {', '.join(sorted(unknown))}")
    try:
        base = ServerSettings()
        return ServerSettings(
            data_dir=Path(merged.get("data_dir", base.data_dir)).expanduser(),
            database_url=str(merged["database_url"]) if merged.get("database_url") else None,
            host=str(merged.get("host", base.host)),
            port=int(merged.get("port", base.port)),
            client_ca=Path(merged["client_ca"]).expanduser() if merged.get("client_ca") else None,
            insecure_http=bool(merged.get("insecure_http", False)),
            max_file_size=int(merged.get("max_file_size", base.max_file_size)),
            pkcs11_module=str(merged["pkcs11_module"]) if merged.get("pkcs11_module") else None,
            pkcs11_token=str(merged["pkcs11_token"]) if merged.get("pkcs11_token") else None,
            pkcs11_key_id=str(merged.get("pkcs11_key_id", base.pkcs11_key_id)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid [server] settings: {exc}") from exc


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
