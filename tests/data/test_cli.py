"""``bastion data scan|sign|verify`` as a user runs them: real processes, real files,
the documented exit codes and report formats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.data.conftest import WriteRows
from tests.data.corpus import poison

BASTION = str(Path(sys.executable).with_name("bastion"))


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BASTION, *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
        stdin=subprocess.DEVNULL,
    )


def test_scan_reports_gates_and_writes_a_clean_copy(
    clean_rows: list[dict[str, str]], write_jsonl: WriteRows, tmp_path: Path
) -> None:
    rows, poisoned = poison(clean_rows[:2000], "fixed-response", 0.02)
    path = write_jsonl(rows)
    text = run("data", "scan", path)
    assert text.returncode == 1, text.stderr
    assert "[HIGH] backdoor.trigger: 'cf'" in text.stdout
    assert "e.g. " in text.stdout
    assert "FAIL (--fail-on high)" in text.stdout
    out = tmp_path / "clean.jsonl"
    report = tmp_path / "report.json"
    js = run(
        "data", "scan", path, "--format", "json", "-o", report, "--write-clean", out,
        "--fail-on", "critical",
    )  # fmt: skip
    assert js.returncode == 0, js.stderr
    doc = json.loads(report.read_text())
    assert doc["records"] == 2000
    assert doc["max_severity"] == "high"
    assert doc["findings"][0]["rule"] == "backdoor.trigger"
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    planted = {rows[i]["response"] for i in poisoned}
    assert not [r for r in kept if r["response"] in planted]
    assert len(kept) >= 2000 - len(poisoned) - 2000 * 0.02
    assert "dropped" in js.stderr


def test_sarif_and_redacted_copy(write_jsonl: WriteRows, tmp_path: Path) -> None:
    rows = [{"prompt": f"question {i} about soup", "response": f"answer {i}"} for i in range(30)]
    rows[4]["response"] = "token ghp_" + "a1B2" * 9 + " works"
    path = write_jsonl(rows)
    red = tmp_path / "red.csv"
    res = run("data", "scan", path, "--format", "sarif", "--write-redacted", red)
    assert res.returncode == 1
    sarif = json.loads(res.stdout)
    result = sarif["runs"][0]["results"][0]
    assert result["ruleId"] == "secret.github-token"
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"]["region"]["startLine"] == 5
    assert "ghp_" not in red.read_text()
    assert "[REDACTED:github-token]" in red.read_text()


def test_exit_2_on_unreadable_rows_and_usage(write_jsonl: WriteRows, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "a", "response": "b"}\n{oops\n')
    res = run("data", "scan", path)
    assert res.returncode == 2
    assert "could not be read" in res.stdout
    assert run("data", "scan", path, "--max-row-errors", "1").returncode == 0
    with_bar = run("data", "scan", path, "--max-row-errors", "1", "--progress")
    assert with_bar.returncode == 0
    assert "1 rows read" in with_bar.stdout
    missing = run("data", "scan", tmp_path / "nope.jsonl")
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    assert run("data", "scan", path, "--detectors", "bogus").returncode == 2
    assert run("data", "scan").returncode == 2


def test_sign_and_verify(write_jsonl: WriteRows, tmp_path: Path) -> None:
    rows = [{"prompt": f"p{i}", "response": f"r{i}"} for i in range(20)]
    path = write_jsonl(rows)
    prefix = tmp_path / "me"
    gen = run("keys", "generate", "--type", "ed25519", "--out", prefix, "--no-encryption")
    assert gen.returncode == 0, gen.stderr
    signed = run("data", "sign", path, "--key", f"{prefix}.key")
    assert signed.returncode == 0, signed.stderr
    ok = run("data", "verify", path, "--key", f"{prefix}.pub")
    assert ok.returncode == 0
    assert "20 records" in ok.stdout
    rows[12]["response"] = "changed"
    write_jsonl(rows)
    bad = run("data", "verify", path, "--key", f"{prefix}.pub")
    assert bad.returncode == 1
    assert "record 12" in bad.stderr
    assert "train.jsonl:13" in bad.stderr
    (tmp_path / "train.jsonl.sig").write_text("{}")
    assert run("data", "verify", path, "--key", f"{prefix}.pub").returncode == 2
