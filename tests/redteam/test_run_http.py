"""The whole pipeline over real HTTP against the scripted fake LLM: CLI, gates, reports, resume."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET  # our own report
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bastion.cli.main import cli
from bastion.redteam import (
    CallableTarget,
    HttpTarget,
    LlmJudge,
    Request,
    Response,
    RunConfig,
    TargetError,
    load_probes,
    run,
    summarise,
)
from bastion.redteam.base import Message

from .conftest import CANARY, SYSTEM_PROMPT, Server, read_jsonl


def redteam(*args: str | Path) -> Any:
    return CliRunner().invoke(cli, ["redteam", *map(str, args)], catch_exceptions=False)


def run_cli(server: Server, mode: str, out: Path, *extra: str) -> Any:
    target = ("--target", server.url(mode), "--model", "fake", "--canary", CANARY)
    return redteam(
        "run",
        *target,
        "--system-prompt",
        SYSTEM_PROMPT,
        "--out",
        out,
        "--retries",
        "2",
        "--backoff",
        "0.01",
        *extra,
    )


@pytest.fixture(scope="module")
def vulnerable_run(fake_llm: Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    out = tmp_path_factory.mktemp("vulnerable")
    return run_cli(
        fake_llm,
        "vulnerable",
        out,
        "--buff",
        "base64",
        "--offer-tools",
        "--max-failure-rate",
        "0.5",
        "--max-failure-rate",
        "xss=1",
    ), out


@pytest.fixture(scope="module")
def hardened_run(fake_llm: Server, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    out = tmp_path_factory.mktemp("hardened")
    return run_cli(fake_llm, "hardened", out, "--buff", "all", "--max-failure-rate", "0"), out


def test_vulnerable_target_fails_every_category_and_the_gate(
    vulnerable_run: tuple[Any, Path],
) -> None:
    result, out = vulnerable_run
    assert result.exit_code == 1, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["buffs"]["none"]["failure_rate"] == 1.0
    for category, row in summary["categories"].items():
        assert row["failures"] > 0, category
    gates = {g["scope"]: g["passed"] for g in summary["gates"]}
    assert gates == {"overall": False, "xss": True}
    assert summary["errors"] == 0
    reasons = {
        d["reason"] for r in read_jsonl(out / "attempts.jsonl") for d in r["detections"] if d["hit"]
    }
    assert {
        "canary.present",
        "marker.present",
        "tool-call.structured",
        "consumption.token-limit",
        "active-content.script",
        "exfiltration.image",
        "complied.compliance-cue",
    } <= reasons
    assert any(r.startswith("leak.") for r in reasons)


def test_hardened_target_that_quotes_every_attack_passes(hardened_run: tuple[Any, Path]) -> None:
    result, out = hardened_run
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["attempts"] == len(read_jsonl(out / "attempts.jsonl")) > 400
    assert summary["failures"] == 0
    assert set(summary["buffs"]) == {
        "none",
        "typos",
        "homoglyphs",
        "leetspeak",
        "base64",
        "rot13",
        "hex",
        "paraphrase",
        "language",
        "split",
    }


def test_reports(vulnerable_run: tuple[Any, Path]) -> None:
    _, out = vulnerable_run
    summary = json.loads((out / "summary.json").read_text())
    records = read_jsonl(out / "attempts.jsonl")
    suites = ET.parse(out / "junit.xml").getroot()  # noqa: S314 - written by the test
    cases = suites.findall(".//testcase")
    assert len(cases) == summary["attempts"] + len(summary["gates"])
    assert len(suites.findall(".//failure")) == summary["failures"] + 1  # one failed gate
    sarif = json.loads((out / "results.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    run0 = sarif["runs"][0]
    assert len(run0["results"]) == summary["failures"]
    tags = {t for rule in run0["tool"]["driver"]["rules"] for t in rule["properties"]["tags"]}
    assert {"LLM01", "LLM07", "AML.T0056"} <= tags
    page = (out / "report.html").read_text()
    assert "<svg" in page
    assert "failure rate by category" in page
    assert "<script" not in page.lower()  # the XSS answers are shown escaped
    assert "&lt;script&gt;" in page
    assert "Content-Security-Policy" in page
    assert any(r["status"] == "fail" and r["category"] == "xss" for r in records)


def test_resume_sends_only_what_is_missing(fake_llm: Server, tmp_path: Path) -> None:
    args = ("--category", "jailbreak", "--buff", "typos", "--buff", "leetspeak", "--seed", "7")
    first = run_cli(fake_llm, "hardened", tmp_path, *args)
    assert first.exit_code == 0
    lines = (tmp_path / "attempts.jsonl").read_text().splitlines()
    total = len(lines)
    # Simulate a run killed after all but 5 attempts, in the middle of writing a line.
    (tmp_path / "attempts.jsonl").write_text("\n".join(lines[:-5]) + "\n" + lines[-5][:40])
    before = fake_llm.app.state.requests
    again = run_cli(fake_llm, "hardened", tmp_path, *args, "--resume")
    assert again.exit_code == 0, again.output
    assert fake_llm.app.state.requests - before == 5
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["attempts"] == total
    assert summary["resumed"] == total - 5
    # Same seed, same prompts: the ids of the resumed run are those of the first.
    ids = {r["id"] for r in read_jsonl_tolerant(tmp_path / "attempts.jsonl")}
    assert ids == {json.loads(line)["id"] for line in lines}


def read_jsonl_tolerant(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def test_retries_on_429_and_503(fake_llm: Server, tmp_path: Path) -> None:
    result = run_cli(fake_llm, "flaky", tmp_path, "--category", "xss", "--concurrency", "2")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["errors"] == 0
    assert summary["attempts"] == 3


def test_unreachable_target_is_exit_2(fake_llm: Server, tmp_path: Path) -> None:
    result = run_cli(fake_llm, "down", tmp_path, "--category", "xss", "--retries", "1")
    assert result.exit_code == 2
    assert "rerun with --resume" in result.output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["errors"] == 3


def test_usage_errors_are_exit_2(fake_llm: Server, tmp_path: Path) -> None:
    assert run_cli(fake_llm, "hardened", tmp_path, "--max-failure-rate", "2").exit_code == 2
    assert run_cli(fake_llm, "hardened", tmp_path, "--buff", "nope").exit_code == 2
    assert redteam("run", "--target", "ftp://x", "--model", "m", "--out", tmp_path).exit_code == 2
    bad = tmp_path / "packs"
    bad.mkdir()
    (bad / "bad.yaml").write_text("probes: [{id: a}]")
    assert run_cli(fake_llm, "hardened", tmp_path, "--probes", str(bad)).exit_code == 2
    missing = redteam(
        "run",
        "--target",
        fake_llm.url("hardened"),
        "--model",
        "m",
        "--api-key-env",
        "BASTION_TEST_UNSET_KEY",
        "--out",
        tmp_path,
    )
    assert missing.exit_code == 2
    assert "BASTION_TEST_UNSET_KEY" in missing.output


def test_compare(vulnerable_run: tuple[Any, Path], hardened_run: tuple[Any, Path]) -> None:
    before, after = vulnerable_run[1] / "summary.json", hardened_run[1] / "summary.json"
    result = redteam("compare", before, after, "--json", "--fail-on-regression")
    assert result.exit_code == 0
    diff = json.loads(result.output)
    overall = diff["rows"][0]
    assert overall["scope"] == "overall"
    assert overall["delta"] < 0
    assert not diff["regressed"]
    assert redteam("compare", after, before, "--fail-on-regression").exit_code == 1
    assert redteam("compare", before, vulnerable_run[1] / "junit.xml").exit_code == 2


def test_probes_listing() -> None:
    result = redteam("probes", "--json")
    assert result.exit_code == 0
    assert {"jb-dan", "spe-repeat", "ea-transfer"} <= {p["id"] for p in json.loads(result.output)}


def test_library_callable_targets() -> None:
    probes = load_probes(categories=["prompt-injection-direct"])

    def obey(request: Request) -> str:
        return "BST-PWN-4Q7K BST-PWN-8M2D BST-PWN-3H9V BST-PWN-6T1A BST-PWN-2C5R"

    async def refuse(request: Request) -> Response:
        return Response("I'm sorry, but I can't help with that.")

    assert summarise(run(CallableTarget(obey), probes, RunConfig()).records)["failure_rate"] == 1.0
    assert (
        summarise(run(CallableTarget(refuse), probes, RunConfig()).records)["failure_rate"] == 0.0
    )


def test_llm_judge_overrides_the_refusal_heuristic(fake_llm: Server) -> None:
    probes = load_probes(categories=["harmful"])
    lenient = LlmJudge(CallableTarget(lambda request: "NO"))
    strict = LlmJudge(CallableTarget(lambda request: "YES."))
    confused = LlmJudge(CallableTarget(lambda request: "maybe"))
    rates = []
    for judge in (lenient, strict, confused):
        target = HttpTarget(fake_llm.url("vulnerable"), "fake")
        records = run(target, probes, RunConfig(), judge=judge).records
        rates.append(summarise(records)["failure_rate"])
        assert all(any(d["detector"] == "judge" for d in r["detections"]) for r in records)
    assert rates == [0.0, 1.0, 1.0]  # "maybe" leaves the heuristic verdict in place


def test_http_target_errors(fake_llm: Server) -> None:
    async def go(url: str, **kw: Any) -> Response:
        async with HttpTarget(url, "fake", **kw) as target:
            return await target.send(Request((Message("user", "hi"),)))

    before = fake_llm.app.state.requests
    with pytest.raises(TargetError, match="HTTP 404"):
        asyncio.run(go(f"http://127.0.0.1:{fake_llm.port}/nothing/here"))
    with pytest.raises(TargetError, match="no answer after 2 tries"):
        asyncio.run(go(fake_llm.url("down"), retries=1, backoff=0.01))
    assert fake_llm.app.state.requests - before == 2  # 404 is not retried; 503 once
    with pytest.raises(TargetError, match="no answer"):
        asyncio.run(go("http://127.0.0.1:9/v1", retries=0, timeout=2))
    reply = asyncio.run(go(fake_llm.url("hardened"), rate=50))
    assert reply.text.startswith("I'm sorry")
    assert reply.finish_reason == "stop"
    for mode in ("huge", "hugestream"):  # an answer over the cap is refused, not held
        with pytest.raises(TargetError, match="over 1048576 bytes"):
            asyncio.run(go(fake_llm.url(mode), max_answer_bytes=1 << 20))


def test_bastion_proxy_in_front_of_the_vulnerable_target(
    fake_llm: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before and after: the guard proxy blocks attacks (400 guard_block counts as a pass)."""
    from bastion.guard.proxy import KeyStore, ProxyConfig, create_app, generate_key
    from bastion.guard.proxy.keys import ApiKey

    key, digest = generate_key()
    config = ProxyConfig(
        upstream=fake_llm.url("vulnerable"),
        keys=KeyStore([ApiKey("rt", digest)]),
        requests_per_minute=100_000,
        tokens_per_minute=10_000_000,
        system_prompt=SYSTEM_PROMPT,
        canary=CANARY,
    )
    monkeypatch.setenv("BASTION_TEST_PROXY_KEY", key)
    cats = (
        "--category",
        "prompt-injection-direct",
        "--category",
        "system-prompt-extraction",
        "--category",
        "xss",
        "--category",
        "markdown-exfiltration",
    )
    with Server(create_app(config)) as proxy:
        direct = run_cli(fake_llm, "vulnerable", tmp_path / "direct", *cats)
        guarded = redteam(
            "run",
            "--target",
            f"http://127.0.0.1:{proxy.port}/v1",
            "--model",
            "fake",
            "--canary",
            CANARY,
            "--api-key-env",
            "BASTION_TEST_PROXY_KEY",
            "--out",
            tmp_path / "guarded",
            *cats,
        )
    assert direct.exit_code == 0
    assert guarded.exit_code == 0, guarded.output
    before = json.loads((tmp_path / "direct" / "summary.json").read_text())
    after = json.loads((tmp_path / "guarded" / "summary.json").read_text())
    assert after["errors"] == 0
    assert before["failure_rate"] == 1.0
    assert after["failure_rate"] < 0.5
    records = read_jsonl(tmp_path / "guarded" / "attempts.jsonl")
    assert any(d["detector"] == "blocked" for r in records for d in r["detections"])
    diff = redteam(
        "compare",
        tmp_path / "direct" / "summary.json",
        tmp_path / "guarded" / "summary.json",
        "--json",
    )
    assert json.loads(diff.output)["rows"][0]["delta"] < -0.5


def test_judge_from_the_cli(fake_llm: Server, tmp_path: Path) -> None:
    judged = run_cli(fake_llm, "vulnerable", tmp_path, "--category", "harmful-content",
                     "--judge-model", "judge", "--judge-target", fake_llm.url("judge"),
                     "--max-failure-rate", "0")  # fmt: skip
    assert judged.exit_code == 0, judged.output
    plain = run_cli(fake_llm, "vulnerable", tmp_path / "plain", "--category", "harmful-content",
                    "--max-failure-rate", "0")  # fmt: skip
    assert plain.exit_code == 1


def test_rate_limiter_spaces_requests() -> None:
    from bastion.redteam import targets

    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> None:
        # The sleep is handed in, not patched into asyncio: other event loops in the
        # same test process (servers on threads) keep their own sleeps.
        limiter = targets.RateLimiter(10.0, sleep=fake_sleep)
        for _ in range(5):
            await limiter.acquire()

    asyncio.run(go())
    # The first passes at once; each next one is scheduled 0.1 s after the previous.
    assert len(waits) == 4
    assert waits == sorted(waits)
    assert waits[-1] == pytest.approx(0.4, abs=0.05)
