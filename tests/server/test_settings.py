"""The [server] settings: TOML, then BASTION_* variables; unknown keys refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.config import Settings
from bastion.errors import ConfigError


def test_server_settings_from_file_and_environment(tmp_path: Path) -> None:
    cfg = tmp_path / "bastion.toml"
    cfg.write_text('[server]\nport = 9443\nhost = "10.0.0.5"\nmax_file_size = 1000\n')
    settings = Settings.load(cfg, environ={"BASTION_DATA_DIR": str(tmp_path / "d")}).server
    assert (settings.port, settings.host, settings.max_file_size) == (9443, "10.0.0.5", 1000)
    assert settings.data_dir == tmp_path / "d"
    assert settings.database_url is None
    assert settings.insecure_http is False
    env = {"BASTION_DATABASE_URL": "postgresql://u@h/db", "BASTION_SERVER_PORT": "1"}
    assert Settings.load(cfg, environ=env).server.port == 1
    assert Settings.load(environ={}).server.data_dir == Path("~/.bastion").expanduser()


@pytest.mark.parametrize("text", ["[server]\nbogus = 1\n", '[server]\nport = "x"\n'])
def test_bad_server_settings_are_refused(tmp_path: Path, text: str) -> None:
    cfg = tmp_path / "bastion.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=r"\[server\]"):
        Settings.load(cfg, environ={})
