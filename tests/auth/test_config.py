"""The [auth] settings section: TOML file, BASTION_AUTH_* variables, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import AuthSettings, Settings
from bastion.errors import ConfigError


def test_defaults_are_stated() -> None:
    auth = Settings.load(environ={}).auth
    assert auth == AuthSettings()
    assert (auth.argon2_time_cost, auth.argon2_memory_kib, auth.argon2_parallelism) == (3, 65536, 4)
    assert auth.min_password_length == 12
    assert not auth.mfa_required_for_all


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "bastion.toml"
    path.write_text("[auth]\nargon2_time_cost = 4\nmfa_required_for_all = true\n")
    auth = Settings.load(path, environ={"BASTION_AUTH_ARGON2_TIME_COST": "5"}).auth
    assert auth.argon2_time_cost == 5
    assert auth.mfa_required_for_all is True
    env = {"BASTION_AUTH_MFA_REQUIRED_FOR_ALL": "off", "BASTION_AUTH_BACKOFF_BASE_SECONDS": "0.5"}
    auth = Settings.load(path, environ=env).auth
    assert auth.mfa_required_for_all is False
    assert auth.backoff_base_seconds == 0.5


@pytest.mark.parametrize(
    "text",
    [
        "[auth]\nnope = 1\n",
        "[auth]\nargon2_time_cost = 'many'\n",
        "[auth]\nmfa_required_for_all = 'maybe'\n",
        "[auth]\nmin_password_length = 4\n",
        "[auth]\nargon2_memory_kib = 8\n",
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bastion.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"\[auth\]"):
        Settings.load(path, environ={})
