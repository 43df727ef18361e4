"""The scanner against the malicious and benign corpora, in-process and through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bastion.models import Severity
from bastion.scan import Status, scan_path

from ._checks import describe, describe_files, is_subsequence, scan_one, unmet
from .conftest import Traces
from .corpus import benign, malicious
from .corpus._types import Case, Ctx
from .corpus.malicious_callables import CANARY_MODULE

BASTION = Path(sys.executable).with_name("bastion")
LOCATED = [c for c in malicious.CASES if c.located]


def test_corpus_is_large_and_ids_are_unique() -> None:
    assert len(malicious.CASES) >= 45
    assert len(set(malicious.IDS)) == len(malicious.IDS)
    assert len(set(benign.IDS)) == len(benign.IDS)


@pytest.mark.parametrize("case", malicious.CASES, ids=malicious.IDS)
def test_malicious_file_is_flagged_and_nothing_runs(case: Case, traces: Traces) -> None:
    built = case.build(traces.ctx)
    result = scan_one(built.path)
    assert traces.left() == [], "the scan executed the payload"
    reasons = unmet(case.expect, result)
    assert not reasons, f"{case.id}: {'; '.join(reasons)}\n{describe(result)}"


@pytest.mark.parametrize("case", LOCATED, ids=[c.id for c in LOCATED])
def test_malicious_finding_names_member_and_offset(case: Case, traces: Traces) -> None:
    built = case.build(traces.ctx)
    assert built.members or built.offset is not None, "a located case must say where"
    result = scan_one(built.path)
    floor = Severity.parse(case.expect.min_severity)
    located = [f.location for f in result.findings if f.severity >= floor]
    located += [e.location for e in result.errors]
    if built.members:
        chains = [loc.members for loc in located]
        assert any(is_subsequence(built.members, ch) for ch in chains), (
            f"no finding or error names member chain {built.members}\n{describe(result)}"
        )
    if built.offset is not None:
        offsets = [f.location.offset for f in result.findings if f.severity is Severity.CRITICAL]
        assert any(o is not None and o >= built.offset for o in offsets), (
            f"the payload starts at byte {built.offset}; CRITICAL offsets are {offsets}\n"
            f"{describe(result)}"
        )


@pytest.mark.parametrize("case", benign.CASES, ids=benign.IDS)
def test_benign_file_is_clean(case: benign.BenignCase, tmp_path: Path) -> None:
    path = case.build(tmp_path)
    result = scan_one(path)
    assert result.status is Status.CLEAN, describe(result)
    assert result.findings == ()
    assert result.errors == ()
    if case.has_pickle:
        assert "pickle" in result.formats, f"the pickle inside was never parsed\n{describe(result)}"


ZIP_CASES = [c for c in malicious.CASES if c.id.startswith(("zip", "torch-zip", "npz"))]


@pytest.mark.parametrize("case", ZIP_CASES, ids=[c.id for c in ZIP_CASES])
def test_zip_starting_at_byte_zero_has_no_prefix_data(case: Case, traces: Traces) -> None:
    """Bytes before the first member are a finding only when there are some."""
    built = case.build(traces.ctx)
    assert built.path.read_bytes()[:4] == b"PK\x03\x04"
    result = scan_one(built.path)
    assert not [f for f in result.findings if f.rule.endswith("prefix-data")], describe(result)
    assert not [e for e in result.errors if "<prefix>" in e.location.members], describe(result)


# -- the CLI -----------------------------------------------------------------------------


def _build_dir(root: Path, cases: list[Case]) -> list[Path]:
    paths = []
    for case in cases:
        d = root / case.id
        d.mkdir(parents=True)
        ctx = Ctx(d / "build", root / f"TRACE-{case.id}", "BASTION_TRACE_CLI", root / "keep", 9)
        ctx.dir.mkdir()
        paths.append(case.build(ctx).path)
    return paths


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BASTION), "scan", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _strings(doc: Any) -> set[str]:
    if isinstance(doc, dict):
        return {s for v in doc.values() for s in _strings(v)}
    if isinstance(doc, list):
        return {s for v in doc for s in _strings(v)}
    return {doc} if isinstance(doc, str) else set()


#: the pickle-level cases that must give CRITICAL findings and no errors
CLI_CASES = [
    c
    for c in malicious.PICKLE_CASES
    if c.expect.critical and not c.expect.error_ok and "torch" not in c.id
]


@pytest.fixture(scope="module")
def malicious_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("malicious")
    return root, _build_dir(root, CLI_CASES)


def test_cli_json_on_malicious_dir(malicious_dir: tuple[Path, list[Path]]) -> None:
    root, paths = malicious_dir
    proc = _cli(root, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    mentioned = " ".join(_strings(doc))
    missing = [p.name for p in paths if p.name not in mentioned]
    assert not missing, f"files absent from the JSON report: {missing}"
    assert not list(root.glob("TRACE-*"))


def test_cli_sarif_to_file(malicious_dir: tuple[Path, list[Path]], tmp_path: Path) -> None:
    root, _ = malicious_dir
    out = tmp_path / "report.sarif"
    proc = _cli(root, "--format", "sarif", "-o", out)
    assert proc.returncode == 1, proc.stderr
    sarif = json.loads(out.read_text())
    assert sarif["version"] == "2.1.0"
    results = [r for run in sarif["runs"] for r in run.get("results", [])]
    assert len(results) >= len(CLI_CASES)
    assert all(r.get("ruleId") for r in results)


@pytest.mark.parametrize("fail_on", ["low", "medium", "high", "critical"])
def test_cli_exit_code_matches_library(fail_on: str, tmp_path: Path, traces: Traces) -> None:
    """The CLI's exit code is the library's ``exit_code`` for the same threshold."""
    unknown = next(c for c in malicious.CASES if c.id == "unknown-module-canary")
    path = unknown.build(traces.ctx).path
    expected = scan_path(path, workers=1).exit_code(fail_on=Severity.parse(fail_on))
    proc = _cli(path, "--fail-on", fail_on, "--format", "json")
    assert proc.returncode == expected, proc.stdout + proc.stderr
    assert traces.left() == []


def test_cli_benign_dir_exits_zero(tmp_path: Path) -> None:
    for case in benign.CASES:
        if case.id.startswith(("plain-pickle", "stdlib-", "npz-")):
            d = tmp_path / case.id
            d.mkdir()
            case.build(d)
    proc = _cli(tmp_path, "--format", "json")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    json.loads(proc.stdout)


def test_directory_scan_reports_every_file(malicious_dir: tuple[Path, list[Path]]) -> None:
    root, paths = malicious_dir
    report = scan_path(root, workers=2)
    by_name = {Path(r.path).name: r for r in report.files}
    assert {p.name for p in paths} <= set(by_name), describe_files(report.files)
    assert all(by_name[p.name].status is not Status.CLEAN for p in paths), describe_files(
        report.files
    )
    assert report.exit_code() == 1


_PROBE = r"""
import json, sys
import bz2, gzip, lzma, tarfile, zipfile, zlib  # what a scanner of archives may import
from bastion.scan import scan_path
before = set(sys.modules)
report = scan_path(sys.argv[1], workers=1)
print(json.dumps({"new": sorted(set(sys.modules) - before), "files": len(report.files)}))
"""


@pytest.mark.slow
def test_scanning_the_corpus_imports_nothing_it_names(tmp_path: Path) -> None:
    """In a fresh interpreter, scanning every malicious file imports none of the modules the
    payloads name (nor the ML libraries the scanner must never need)."""
    paths = _build_dir(tmp_path / "corpus", malicious.CASES)
    never = {"torch", "numpy", "joblib", "sklearn", "scipy", CANARY_MODULE}
    named = set()  # every dotted prefix of every global the payloads import
    for case in malicious.CASES:
        for alt in (a for g in case.expect.critical for a in g.split("|")):
            parts = alt.split(".")
            named |= {".".join(parts[:i]) for i in range(1, len(parts))}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(tmp_path / "corpus")],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["files"] >= len(paths)
    imported = {m for m in out["new"] if m in named or m.split(".")[0] in never}
    assert not imported, f"the scan imported {sorted(imported)}"
    assert not list(tmp_path.glob("corpus/TRACE-*"))
