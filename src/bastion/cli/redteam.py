"""``bastion redteam``: attack an LLM application with probes, gate CI on the results.

Exit codes (every subcommand):

* 0: every configured gate holds (``run``, ``bias``), or the job finished
* 1: a gate failed: a failure rate above ``--max-failure-rate`` (``run``), a descriptor
  with a significant difference (``bias --fail-on-bias``), a regression (``compare
  --fail-on-regression``)
* 2: the run could not be done: bad arguments or probe files, an unreachable target,
  or any attempt that still had no answer after the retries (rerun with ``--resume``)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bastion.cli._common import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, fail
from bastion.cli._redteam_options import EXIT_HELP, http_target, target_options
from bastion.cli.redteam_bias import bias_cmd
from bastion.errors import BastionError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def redteam() -> None:
    """Red-team an LLM application: probes, adversarial buffs, detectors, CI gates.

    Exit codes: 0 every gate holds, 1 a gate failed, 2 usage or run error.
    """


@redteam.command("run", epilog=EXIT_HELP)
@target_options
@click.option(
    "--probes",
    "probe_dirs",
    multiple=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Extra folder of .yaml/.json probe packs (repeatable).",
)
@click.option("--no-builtin", is_flag=True, help="Use only the packs from --probes.")
@click.option("--category", "categories", multiple=True, help="Only these categories or packs.")
@click.option("--probe-id", "probe_ids", multiple=True, help="Only these probe ids (prefix*).")
@click.option(
    "--buff",
    "buffs",
    multiple=True,
    help="Adversarial variants: typos, homoglyphs, leetspeak, base64, rot13, hex, "
    "paraphrase, language, split, or all (repeatable).",
)
@click.option(
    "--per-buff",
    type=click.IntRange(1, 20),
    default=1,
    show_default=True,
    help="Variants per buff and probe.",
)
@click.option("--canary", default=None, help="Canary planted in the target's system prompt.")
@click.option(
    "--system-prompt",
    "system_prompt",
    default=None,
    help="System prompt to send with every attack (for a bare model).",
)
@click.option("--temperature", type=click.FloatRange(0, 2), default=None)
@click.option(
    "--offer-tools", is_flag=True, help="Offer each agency probe's tools as function definitions."
)
@click.option(
    "--judge-model",
    default=None,
    help="Also ask this model (at --judge-target) whether harmful requests were answered.",
)
@click.option(
    "--judge-target",
    metavar="URL",
    default=None,
    help="Endpoint of the judge model (default: the target's; same API key variable).",
)
@click.option("--resume", is_flag=True, help="Skip attempts already judged in OUT/attempts.jsonl.")
@click.option(
    "--max-failure-rate",
    "gates",
    multiple=True,
    metavar="[CATEGORY=]RATE",
    help="Gate: fail (exit 1) when the failure rate is above RATE (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary JSON on stdout.")
def run_cmd(**opts: Any) -> None:
    """Send every probe (and its buffed variants) to the target and judge the answers.

    Writes OUT/attempts.jsonl, summary.json, report.html, junit.xml and results.sarif.
    """
    try:
        code = _run(opts)
    except BastionError as exc:
        fail(exc)
    sys.exit(code)


def _run(opts: dict[str, Any]) -> int:
    from bastion.redteam import Gate, LlmJudge, RunConfig, load_probes, run, summarise
    from bastion.redteam.reports import write_all

    gates = [Gate.parse(g) for g in opts["gates"]]
    probes = load_probes(
        directories=opts["probe_dirs"],
        builtin=not opts["no_builtin"],
        categories=opts["categories"],
        ids=opts["probe_ids"],
    )
    config = RunConfig(
        seed=opts["seed"],
        buffs=opts["buffs"],
        per_buff=opts["per_buff"],
        canary=opts["canary"],
        system_prompt=opts["system_prompt"],
        max_tokens=opts["max_tokens"],
        temperature=opts["temperature"],
        offer_tools=opts["offer_tools"],
        workers=opts["concurrency"],
    )
    target = http_target(opts)
    judge = None
    if opts["judge_model"]:
        judge_url = opts["judge_target"] or opts["target_url"]
        judge = LlmJudge(
            http_target({**opts, "model": opts["judge_model"], "target_url": judge_url})
        )
    out: Path = opts["out_dir"]
    with _Progress() as progress:
        result = run(
            target,
            probes,
            config,
            attempts_file=out / "attempts.jsonl",
            resume=opts["resume"],
            judge=judge,
            on_attempt=progress.step,
        )
    meta = {
        "target": target.name,
        "seed": config.seed,
        "buffs": list(config.buffs),
        "probes_run": len(probes),
        "resumed": result.skipped,
        "seconds": round(result.seconds, 3),
    }
    summary = summarise(result.records, gates, meta)
    write_all(out, result.records, summary, {p.id: p.to_dict() for p in probes})
    _print_summary(summary, opts["as_json"], out)
    if summary["errors"]:
        click.echo(f"error: {summary['errors']} attempt(s) got no answer", err=True)
        click.echo(
            "hint: check the target, then rerun with --resume to retry only those.", err=True
        )
        return EXIT_ERROR
    return EXIT_OK if summary["passed"] else EXIT_FINDINGS


class _Progress:
    """A rich progress line on a terminal; nothing otherwise."""

    def __init__(self) -> None:
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _Progress:
        if sys.stderr.isatty():
            from rich.progress import Progress

            self._progress = Progress(transient=True)
            self._progress.start()
            self._task = self._progress.add_task("attacking", total=None)
        return self

    def step(self, record: dict[str, Any]) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:5.1f}%"


def _print_summary(summary: dict[str, Any], as_json: bool, out: Path) -> None:
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(
        f"{summary['attempts']} attempts, {summary['failures']} failed, "
        f"{summary['errors']} errors; failure rate {_rate(summary['failure_rate'])}"
    )
    for cat, row in summary["categories"].items():
        click.echo(
            f"  {cat:<28} {_rate(row['failure_rate'])}  ({row['failures']}/{row['attempts']})"
        )
    for g in summary["gates"]:
        state = "holds" if g["passed"] else "FAILED"
        click.echo(f"gate {g['scope']} <= {g['max']}: {_rate(g['actual'])} {state}")
    click.echo(f"reports: {out}/report.html, summary.json, junit.xml, results.sarif")


@redteam.command("probes")
@click.option(
    "--probes",
    "probe_dirs",
    multiple=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
)
@click.option("--json", "as_json", is_flag=True)
def probes_cmd(probe_dirs: tuple[Path, ...], as_json: bool) -> None:
    """List the probes with their category, OWASP and ATLAS ids."""
    from bastion.redteam import load_probes

    try:
        probes = load_probes(directories=probe_dirs)
    except BastionError as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps([p.to_dict() for p in probes], indent=2))
        return
    for p in probes:
        click.echo(f"{p.id:<26} {p.category:<26} {','.join(p.owasp):<12} {','.join(p.atlas)}")


@redteam.command("compare", epilog=EXIT_HELP)
@click.argument("before", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.argument("after", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--fail-on-regression", is_flag=True, help="Exit 1 when a failure rate went up.")
@click.option("--json", "as_json", is_flag=True)
def compare_cmd(before: Path, after: Path, fail_on_regression: bool, as_json: bool) -> None:
    """Failure rates of two runs side by side (e.g. without and with the Bastion proxy)."""
    from bastion.redteam.summary import compare, load_summary

    try:
        diff = compare(load_summary(before), load_summary(after))
    except BastionError as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps(diff, indent=2))
    else:
        click.echo(f"{'scope':<28} {'before':>7} {'after':>7} {'delta':>8}")
        for r in diff["rows"]:
            delta = "n/a" if r["delta"] is None else f"{r['delta'] * 100:+.1f}%"
            click.echo(f"{r['scope']:<28} {_rate(r['before'])} {_rate(r['after'])} {delta:>8}")
    sys.exit(EXIT_FINDINGS if fail_on_regression and diff["regressed"] else EXIT_OK)


redteam.add_command(bias_cmd, "bias")
