"""``bastion doctor``: known-vulnerable ML packages and server misconfiguration.

Exit codes: 0 nothing found, 1 findings, 2 error (unreadable advisory file, database).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from bastion.cli._common import EXIT_FINDINGS, fail
from bastion.errors import BastionError


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--advisories",
    "advisories_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Use this advisory list (same JSON format) instead of the shipped one.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The server's data directory.  [default: $BASTION_DATA_DIR or ~/.bastion]",
)
@click.option("--database-url", help="[default: settings, or SQLite in the data dir]")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Settings file (TOML) of the server.",
)
@click.option("--no-server", is_flag=True, help="Check installed packages only.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def doctor(
    advisories_file: Path | None,
    data_dir: Path | None,
    database_url: str | None,
    config_path: Path | None,
    no_server: bool,
    as_json: bool,
) -> None:
    """Check the packages that load models (torch, transformers, keras, onnx, llama-cpp-python,
    ...) and Bastion's own dependencies against known advisories, offline; and the server's
    configuration: TLS, private key files, the first-admin token, MFA for admins.

    Exit codes: 0 nothing found, 1 findings, 2 error.
    """
    from bastion.config import Settings
    from bastion.db import make_engine
    from bastion.doctor import diagnose

    engine = None
    try:
        settings = None
        if not no_server:
            settings = Settings.load(config_path).server
            if data_dir is not None:
                settings = replace(settings, data_dir=data_dir)
            url = database_url or settings.database_url
            sqlite = settings.data_dir / "bastion.db"
            if url is not None or sqlite.is_file():
                engine = make_engine(url or f"sqlite:///{sqlite}")
        report = diagnose(settings=settings, engine=engine, advisories_file=advisories_file)
    except BastionError as exc:
        fail(exc)
    finally:
        if engine is not None:
            engine.dispose()
    if as_json:
        click.echo(json.dumps(_as_dict(report), indent=2))
    else:
        _print(report)
    if not report.clean:
        sys.exit(EXIT_FINDINGS)


def _as_dict(report: Any) -> dict[str, Any]:
    return {
        "clean": report.clean,
        "advisories": report.advisories,
        "installed": report.installed,
        "vulnerable": [
            {
                "package": v.package,
                "version": v.version,
                "id": v.advisory.id,
                "aliases": list(v.advisory.aliases),
                "severity": v.advisory.severity,
                "affected": str(v.advisory.affected),
                "fixed": v.advisory.fixed,
                "summary": v.advisory.summary,
            }
            for v in report.vulnerable
        ],
        "findings": [
            {"check": f.check, "severity": f.severity, "message": f.message, "fix": f.fix}
            for f in report.findings
        ],
    }


def _print(report: Any) -> None:
    click.echo(
        f"checked {len(report.installed)} installed package(s) against "
        f"{report.advisories} advisories"
    )
    for v in report.vulnerable:
        ids = ", ".join((v.advisory.id, *v.advisory.aliases))
        fixed = f"; upgrade to {v.advisory.fixed} or later" if v.advisory.fixed else ""
        click.echo(
            f"  [{v.advisory.severity}] {v.package} {v.version}: {ids}: {v.advisory.summary}{fixed}"
        )
    for f in report.findings:
        click.echo(f"  [{f.severity}] {f.check}: {f.message}")
        click.echo(f"      fix: {f.fix}")
    click.echo(
        "no findings"
        if report.clean
        else f"{len(report.vulnerable) + len(report.findings)} finding(s)"
    )
