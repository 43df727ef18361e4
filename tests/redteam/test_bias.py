"""Bias tests: the statistics against SciPy, the lexicon, and a biased fake LLM over HTTP."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from scipy import stats as sps

from bastion.cli.main import cli
from bastion.redteam import CallableTarget, RedteamError
from bastion.redteam.bias import load_suite, run_bias
from bastion.redteam.sentiment import sentiment
from bastion.redteam.stats import benjamini_hochberg, mcnemar_exact, paired_permutation

from .conftest import Server


@pytest.mark.parametrize(("b", "c"), [(0, 0), (3, 0), (7, 2), (12, 0), (5, 5), (1, 9)])
def test_mcnemar_matches_scipy_binomial(b: int, c: int) -> None:
    pairs = [(True, False)] * b + [(False, True)] * c + [(True, True)] * 4 + [(False, False)] * 3
    expected = 1.0 if b + c == 0 else sps.binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(pairs) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(4))
def test_exact_permutation_matches_scipy(seed: int) -> None:
    rng = random.Random(seed)
    diffs = [rng.gauss(0.3, 1) for _ in range(10)]
    ours = paired_permutation(diffs)
    theirs = sps.permutation_test(
        (diffs,), lambda x: abs(sum(x)), permutation_type="samples", alternative="greater",
        n_resamples=10_000,
    ).pvalue  # fmt: skip
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_monte_carlo_permutation_is_seeded_and_sensible() -> None:
    diffs = [1.0] * 30
    assert paired_permutation(diffs, seed=1) == paired_permutation(diffs, seed=1)
    assert paired_permutation(diffs, seed=1) < 0.001
    noise = [(-1.0) ** i for i in range(30)]
    assert paired_permutation(noise, seed=1) > 0.5
    assert paired_permutation([0.0, 0.0]) == 1.0


def test_benjamini_hochberg_matches_scipy() -> None:
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    assert benjamini_hochberg(p) == pytest.approx(list(sps.false_discovery_control(p)))
    assert benjamini_hochberg([]) == []


@pytest.mark.parametrize(
    ("text", "sign"),
    [("A wonderful, talented and reliable engineer.", 1), ("Lazy, unreliable and rude.", -1),
     ("She is not reliable.", -1), ("He is never rude.", 1), ("The sky is blue.", 0)],
)  # fmt: skip
def test_sentiment_lexicon(text: str, sign: int) -> None:
    score = sentiment(text)
    assert (score > 0) - (score < 0) == sign


def test_suite_loading(tmp_path: Path) -> None:
    suite = load_suite()
    assert {g.name for g in suite.groups} >= {"gender", "religion", "ethnicity", "age"}
    assert len(suite.templates) >= 10
    assert [g.name for g in load_suite(groups=["age"]).groups] == ["age"]
    with pytest.raises(RedteamError, match="unknown bias group"):
        load_suite(groups=["nope"])
    bad = tmp_path / "t.yaml"
    bad.write_text("groups: {g: {reference: a, descriptors: [b]}}\ntemplates: [{id: x, text: hi}]")
    with pytest.raises(RedteamError, match="descriptor"):
        load_suite(bad)
    bad.write_text("just text")
    with pytest.raises(RedteamError, match="need 'groups'"):
        load_suite(bad)


def test_unbiased_callable_finds_nothing() -> None:
    target = CallableTarget(lambda request: "A friendly and helpful answer.")
    report = run_bias(target, load_suite(groups=["religion", "gender"]))
    assert report["significant"] == []
    assert report["errors"] == 0
    assert all(row["pairs"] == len(load_suite().templates) for row in report["descriptors"])


def test_biased_fake_llm_over_http(fake_llm: Server, tmp_path: Path) -> None:
    args = ["redteam", "bias", "--target", fake_llm.url("bias"), "--model", "fake",
            "--group", "age", "--group", "religion", "--out", str(tmp_path)]  # fmt: skip
    plain = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert plain.exit_code == 0, plain.output
    gated = CliRunner().invoke(cli, [*args, "--fail-on-bias"], catch_exceptions=False)
    assert gated.exit_code == 1
    report = json.loads((tmp_path / "bias.json").read_text())
    assert set(report["significant"]) == {"age:elderly", "age:teenage"}
    rows = {r["descriptor"]: r for r in report["descriptors"]}
    assert rows["elderly"]["significant_metrics"][0] == "refusal"
    assert rows["elderly"]["refusal_rate"] == {"reference": 0.0, "descriptor": 1.0}
    assert "sentiment" in rows["teenage"]["significant_metrics"]
    assert rows["teenage"]["sentiment_diff"] < 0
    assert not rows["Muslim"]["significant"]


def test_bias_errors_are_exit_2(fake_llm: Server, tmp_path: Path) -> None:
    args = ["redteam", "bias", "--target", fake_llm.url("down"), "--model", "fake",
            "--group", "age", "--retries", "0", "--out", str(tmp_path)]  # fmt: skip
    assert CliRunner().invoke(cli, args, catch_exceptions=False).exit_code == 2
