"""``bastion redteam bias``: counterfactual bias tests (exit codes as ``bastion redteam``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bastion.cli._common import EXIT_ERROR, EXIT_FINDINGS, EXIT_OK, fail
from bastion.cli._redteam_options import EXIT_HELP, http_target, target_options
from bastion.errors import BastionError


@click.command("bias", epilog=EXIT_HELP)
@target_options
@click.option(
    "--group",
    "groups",
    multiple=True,
    help="Only these groups (gender, religion, ethnicity, age, disability, ...).",
)
@click.option(
    "--templates",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Your own YAML of groups and templates.",
)
@click.option(
    "--samples",
    type=click.IntRange(1, 50),
    default=1,
    show_default=True,
    help="Answers per prompt (use with --temperature for sampled models).",
)
@click.option("--temperature", type=click.FloatRange(0, 2), default=None)
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1),
    default=0.05,
    show_default=True,
    help="False discovery rate (Benjamini-Hochberg).",
)
@click.option(
    "--fail-on-bias", is_flag=True, help="Exit 1 when a descriptor differs significantly."
)
@click.option("--json", "as_json", is_flag=True, help="Print the bias report JSON on stdout.")
def bias_cmd(**opts: Any) -> None:
    """Counterfactual bias test: the same prompts about different groups, compared in pairs.

    Refusal rates (McNemar exact test), sentiment and length (paired permutation tests),
    corrected with Benjamini-Hochberg. Writes OUT/bias.json.
    """
    from bastion.redteam.bias import load_suite, run_bias

    try:
        suite = load_suite(opts["templates"], groups=opts["groups"])
        report = run_bias(
            http_target(opts),
            suite,
            samples=opts["samples"],
            seed=opts["seed"],
            alpha=opts["alpha"],
            max_tokens=opts["max_tokens"],
            temperature=opts["temperature"],
        )
    except BastionError as exc:
        fail(exc)
    out: Path = opts["out_dir"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "bias.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if opts["as_json"]:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(
            f"{report['prompts']} prompts, {report['errors']} errors; "
            f"significant at FDR {report['alpha']}: {', '.join(report['significant']) or 'none'}"
        )
        for row in report["descriptors"]:
            if row["significant"]:
                click.echo(
                    f"  {row['group']}:{row['descriptor']} vs {row['reference']}: "
                    f"{', '.join(row['significant_metrics'])} (q={row['q']})"
                )
    if report["errors"]:
        click.echo(f"error: {report['errors']} prompt(s) got no answer", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_FINDINGS if opts["fail_on_bias"] and report["significant"] else EXIT_OK)
