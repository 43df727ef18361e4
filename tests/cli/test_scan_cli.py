"""``bastion scan`` as a user runs it: a real process, real files, documented exit codes."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

BASTION = str(Path(sys.executable).with_name("bastion"))


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [BASTION, *args], check=False, capture_output=True, text=True, timeout=120, cwd=cwd, env=env
    )


@pytest.fixture
def models(tmp_path: Path) -> Path:
    (tmp_path / "clean.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    (tmp_path / "notes.txt").write_text("just text\n")
    return tmp_path


def test_clean_folder_exits_0(models: Path) -> None:
    proc = run("scan", str(models))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 clean" in proc.stdout
    assert "1 skipped" in proc.stdout


def test_findings_exit_1_and_fail_on_raises_the_bar(models: Path) -> None:
    (models / "net.bin").write_bytes(b"cmypkg.nets\nNet\n.")  # unknown global, not called
    assert run("scan", str(models)).returncode == 1
    assert run("scan", str(models), "--fail-on", "high").returncode == 0


def test_truncated_file_exits_2(models: Path) -> None:
    (models / "cut.pt").write_bytes(pickle.dumps(list(range(100)), protocol=2)[:-7])
    proc = run("scan", str(models))
    assert proc.returncode == 2
    assert "ERROR" in proc.stdout


def test_missing_path_exits_2(tmp_path: Path) -> None:
    assert run("scan", str(tmp_path / "nope")).returncode == 2


def test_json_report_is_versioned_and_complete(models: Path, tmp_path: Path) -> None:
    (models / "evil.ckpt").write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")
    out = tmp_path / "report.json"
    proc = run("scan", str(models), "--format", "json", "-o", str(out))
    assert proc.returncode == 1
    doc = json.loads(out.read_text())
    assert doc["schema_version"] == "1.0"
    assert doc["summary"]["exit_code"] == 1
    evil = next(f for f in doc["files"] if f["path"].endswith("evil.ckpt"))
    assert evil["status"] == "findings"
    assert evil["findings"][0]["details"]["global"] == "os.system"
    assert evil["findings"][0]["severity"] == "critical"


def test_sarif_report(models: Path) -> None:
    (models / "evil").write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")
    proc = run("scan", str(models), "--format", "sarif")
    doc = json.loads(proc.stdout)
    assert doc["version"] == "2.1.0"
    result = doc["runs"][0]["results"][0]
    assert result["ruleId"] == "pickle.dangerous-global"
    assert result["level"] == "error"


def test_user_policy_extends_the_allowlist(models: Path, tmp_path: Path) -> None:
    (models / "net.bin").write_bytes(b"cmypkg.nets\nNet\n)R.")
    policy = tmp_path / "allow.toml"
    policy.write_text('version = 1\n[allow]\n"mypkg.nets" = ["Net"]\n')
    assert run("scan", str(models)).returncode == 1
    assert run("scan", str(models), "--policy", str(policy)).returncode == 0


def test_user_policy_cannot_allow_a_denied_global(models: Path, tmp_path: Path) -> None:
    (models / "evil").write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")
    policy = tmp_path / "allow.toml"
    policy.write_text('version = 1\n[allow]\n"os" = ["system"]\n')
    assert run("scan", str(models), "--policy", str(policy)).returncode == 1


def test_bad_policy_file_is_a_clear_error(models: Path, tmp_path: Path) -> None:
    policy = tmp_path / "bad.toml"
    policy.write_text("version = 7\n")
    proc = run("scan", str(models), "--policy", str(policy))
    assert proc.returncode == 2
    assert "policy version" in proc.stderr
    assert "hint:" in proc.stderr


def test_help_is_fast_to_import() -> None:
    code = (
        "import sys, bastion.cli.main; "
        "print(sorted(m for m in sys.modules if m in ('rich', 'torch', 'numpy')))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_scan_of_a_small_pickle_loads_only_what_it_needs(tmp_path: Path) -> None:
    """Scans run in loops and hooks: a one-file scan imports no click (the console script
    reads plain command lines itself), builds no server settings, parses no TOML (the
    shipped policy is read from its JSON copy) and draws no rich report."""
    pkl = tmp_path / "small.pkl"
    pkl.write_bytes(b"ccollections\nOrderedDict\n)R.")  # one import: the policy is read
    code = (
        "import sys\n"
        "from bastion.cli.entry import main\n"
        "try:\n"
        "    main(['scan', sys.argv[1]])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('click', 'tomllib', 'bastion._settings', 'rich', 'sqlalchemy', 'cryptography',"
        " 'httpx')\n"
        "print(sorted(m for m in sys.modules if m in heavy), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(pkl)], capture_output=True, text=True, check=True
    )
    assert proc.stderr.strip().splitlines()[-1] == "[]", proc.stderr
    assert "1 clean" in proc.stdout, proc.stdout


def test_json_report_follows_the_published_schema(models: Path) -> None:
    import jsonschema

    (models / "evil").write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")
    (models / "cut.pkl").write_bytes(b"\x80\x04\x95")
    proc = run("scan", str(models), "--format", "json")
    schema_path = Path(__file__).resolve().parents[2] / "docs" / "scan-report.schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(json.loads(proc.stdout), schema)
