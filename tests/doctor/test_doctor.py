"""``bastion doctor``: advisories against installed versions, and the server's settings."""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import replace
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bastion.audit import MemoryAuditSink
from bastion.auth._core import Operator
from bastion.auth.base import Role
from bastion.auth.secretbox import SecretBox
from bastion.auth.service import IdentityService
from bastion.auth.user_grants import GLOBAL
from bastion.cli.main import cli
from bastion.config import AuthSettings, ServerSettings
from bastion.db import make_engine
from bastion.doctor import diagnose, load_advisories
from bastion.doctor.advisories import match
from bastion.errors import ConfigError
from bastion.server.bootstrap import Paths, prepare


def _advisories(path: Path, entries: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"format": "bastion-advisories/1", "advisories": entries}))
    return path


def test_shipped_list_is_well_formed() -> None:
    shipped = load_advisories()
    assert len(shipped) >= 10
    for advisory in shipped:
        assert re.fullmatch(r"CVE-\d{4}-\d{4,}", advisory.id)
        assert all(re.fullmatch(r"GHSA(-[2-9cfghjmpqrvwx]{4}){3}", a) for a in advisory.aliases)
        assert advisory.fixed is not None
        assert not advisory.affected.contains(advisory.fixed, prereleases=True)
    packages = {a.package for a in shipped}
    assert {"torch", "keras", "llama-cpp-python", "transformers", "onnx"} <= packages


def test_ranges_match_as_advertised() -> None:
    torch = [a for a in load_advisories() if a.id == "CVE-2025-32434"]
    assert [h.advisory.id for h in match(torch, {"torch": "2.5.1"})] == ["CVE-2025-32434"]
    assert match(torch, {"torch": "2.6.0"}) == []
    keras = [a for a in load_advisories() if a.package == "keras"]
    assert {h.advisory.id for h in match(keras, {"keras": "3.8.0"})} == {
        "CVE-2025-1550", "CVE-2025-8747"
    }  # fmt: skip
    assert [h.advisory.id for h in match(keras, {"keras": "3.10.0"})] == ["CVE-2025-8747"]
    assert match(keras, {"keras": "2.15.0"}) == []  # before the Keras 3 rewrite
    transformers = [a for a in load_advisories() if a.id == "CVE-2026-1839"]
    assert match(transformers, {"transformers": "5.0.0rc2"})
    assert match(transformers, {"transformers": "5.0.0rc3"}) == []


def test_an_installed_vulnerable_package_is_a_finding(tmp_path: Path) -> None:
    click_version = metadata.version("click")
    feed = _advisories(tmp_path / "feed.json", [
        {"id": "CVE-2099-0001", "package": "click", "affected": f"<={click_version}",
         "fixed": "999", "severity": "high", "summary": "test advisory"},
        {"id": "CVE-2099-0002", "package": "click", "affected": f"<{click_version}",
         "fixed": click_version, "severity": "high", "summary": "already fixed"},
        {"id": "CVE-2099-0003", "package": "not-installed-pkg", "affected": ">=0",
         "severity": "low"},
    ])  # fmt: skip
    report = diagnose(advisories_file=feed)
    assert [(v.package, v.advisory.id) for v in report.vulnerable] == [("click", "CVE-2099-0001")]
    result = CliRunner().invoke(cli, ["doctor", "--no-server", "--json", "--advisories", str(feed)])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["vulnerable"][0]["id"] == "CVE-2099-0001"
    assert doc["installed"]["click"] == click_version
    assert "torch" in doc["installed"]  # the ML packages are looked up, never imported


def test_a_bad_advisory_file_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "bastion-advisories/1", "advisories": [{"id": "x"}]}')
    result = CliRunner().invoke(cli, ["doctor", "--no-server", "--advisories", str(bad)])
    assert result.exit_code == 2
    assert "cannot read advisories" in result.output


@given(st.binary(max_size=500))
def test_untrusted_advisory_files_raise_config_errors_only(data: bytes) -> None:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".json") as handle:
        handle.write(data)
        handle.flush()
        with contextlib.suppress(ConfigError):
            load_advisories(Path(handle.name))


def test_server_configuration_findings(database_url: str, tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    engine = make_engine(database_url)
    try:
        prepare(paths, engine, MemoryAuditSink())  # leaves the first-admin token valid
        box = SecretBox.from_file(paths.data_dir / "identity.key", create=True)
        identity = IdentityService(engine, settings=AuthSettings(), audit=MemoryAuditSink(),
                                   secret_box=box)  # fmt: skip
        identity.create_user(Operator("t"), "root", "a very long password 1")
        identity.grant(Operator("t"), "root", Role.ADMIN, GLOBAL)
        settings = ServerSettings(data_dir=paths.data_dir)
        checks = {f.check for f in diagnose(settings=settings, engine=engine).findings}
        assert checks == {"credentials", "mfa"}
        os.chmod(paths.key_file, 0o644)
        os.chmod(paths.data_dir, 0o755)  # noqa: S103 (the finding under test)
        loose = replace(settings, insecure_http=True)
        findings = diagnose(settings=loose, engine=engine).findings
        assert {f.check for f in findings} == {"credentials", "mfa", "tls", "permissions"}
        assert any("kek.json" in f.message for f in findings)
    finally:
        engine.dispose()


def test_cli_reads_the_data_dir(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data")
    engine = make_engine(paths.default_database_url())
    try:
        prepare(paths, engine, MemoryAuditSink())
    finally:
        engine.dispose()
    result = CliRunner().invoke(cli, ["doctor", "--data-dir", str(paths.data_dir)])
    assert result.exit_code == 1
    assert "first-admin token" in result.output
    _ = pytest
