"""The client's login file: server URL, CA certificate and token, readable by its owner only."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from bastion.errors import ConfigError

LOGIN_ENV = "BASTION_LOGIN_FILE"


def default_login_path() -> Path:
    if os.environ.get(LOGIN_ENV):
        return Path(os.environ[LOGIN_ENV])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "bastion" / "login.json"


@dataclass(frozen=True, slots=True)
class Login:
    url: str
    token: str
    ca_cert: str | None = None  # PEM file that signs the server's certificate


def save_login(login: Login, path: Path | None = None) -> Path:
    """Write the login file with mode 0600 (replacing any previous one)."""
    path = path or default_login_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"url": login.url, "token": login.token, "ca_cert": login.ca_cert}, out)
    os.replace(tmp, path)
    return path


def load_login(path: Path | None = None) -> Login:
    path = path or default_login_path()
    try:
        if path.stat().st_mode & 0o077:
            raise ConfigError(
                f"{path} is readable by others; it holds a token",
                hint=f"chmod 600 {path}, or log in again",
            )
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Login(str(raw["url"]), str(raw["token"]), raw.get("ca_cert"))
    except FileNotFoundError:
        raise ConfigError(
            "not logged in", hint="Run `bastion login URL --ca-cert CERT` first."
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read the login file {path}: {exc}") from None
