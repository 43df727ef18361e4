"""``bastion scan``: a thin layer over :func:`bastion.scan.scan_path`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bastion.cli._common import fail, fail_os, report_options
from bastion.config import load_scan_settings
from bastion.errors import BastionError
from bastion.models import Severity

if TYPE_CHECKING:
    from bastion.config import ScanSettings
    from bastion.scan import ScanReport

SEVERITIES = [s.label for s in Severity]

EPILOG = """\b
Exit codes:
  0  every file is clean (or has findings below --fail-on), or is not a model file
  1  findings at or above --fail-on
  2  a file could not be scanned to the end (truncated, corrupt, over a limit),
     or the command was used wrongly

\b
Examples:
  bastion scan model.pt
  bastion scan ./my-model/ --format sarif -o bastion.sarif
  bastion scan *.ckpt --fail-on high --policy extra-allow.toml
"""


@click.command(epilog=EPILOG)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@report_options
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES, case_sensitive=False),
    default=None,
    help="Lowest severity that makes the exit code 1.  [default: medium]",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Extra policy TOML adding allowed or denied globals (repeatable).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Processes to scan with; 0 means one per CPU core.  [default: 0]",
)
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="BASTION_CONFIG",
    help="Settings TOML file (also BASTION_CONFIG).",
)
@click.option(
    "--sbom",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a CycloneDX 1.6 ML-BOM (JSON): each file's SHA-256, format and verdict.",
)
@click.option("-v", "--verbose", is_flag=True, help="List clean and skipped files too.")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar [default: on a terminal]."
)
def scan(
    paths: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    fail_on: str | None,
    policies: tuple[Path, ...],
    workers: int | None,
    config: Path | None,
    sbom: Path | None,
    verbose: bool,
    progress: bool | None,
) -> None:
    """Scan model files for code injection before anything loads them.

    PATHS are files or folders (scanned recursively). Formats are told apart by
    content, not by file name: pickles (protocols 0-5), PyTorch checkpoints (zip,
    legacy, TorchScript), NumPy, joblib, safetensors, GGUF, ONNX, Keras (.keras,
    .h5), TensorFlow SavedModel, JSON configs, chat templates, Python files, and
    zip/tar/gzip/bz2/xz archives of them. Nothing scanned is ever imported,
    unpickled or executed.
    """
    from dataclasses import replace

    from bastion.scan import scan_path

    try:
        settings = load_scan_settings(config)
        threshold = Severity.parse(fail_on) if fail_on else settings.fail_on
        settings = replace(settings, policy_files=(*settings.policy_files, *policies))
        if workers is not None:
            settings = replace(settings, workers=workers)
        show_bar = sys.stderr.isatty() if progress is None else progress
        if show_bar:
            report = _scan_with_bar(paths, settings)
        else:
            report = scan_path(*paths, settings=settings)
    except BastionError as exc:
        fail(exc)
    text = _render(report, fmt, threshold, verbose, output)
    if sbom is not None:
        from bastion.scan.report import to_cyclonedx

        _write(sbom, to_cyclonedx(report, [str(p) for p in paths]) + "\n")
    if output is not None:
        _write(output, text)
    elif text:
        click.echo(text, nl=False)
    sys.exit(report.exit_code(threshold))


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail_os(exc, f"cannot write {path}")


def _render(
    report: object, fmt: str, threshold: Severity, verbose: bool, output: Path | None
) -> str:
    from bastion.scan import ScanReport

    assert isinstance(report, ScanReport)
    if fmt == "json":
        from bastion.scan.report import to_json

        return to_json(report, threshold) + "\n"
    if fmt == "sarif":
        from bastion.scan.report import to_sarif

        return to_sarif(report) + "\n"
    import io

    from bastion.scan.report.as_text import render

    buf = io.StringIO()
    color = None if output is None and sys.stdout.isatty() else False
    render(report, buf, fail_on=threshold, color=color, verbose=verbose)
    return buf.getvalue()


def _scan_with_bar(paths: tuple[Path, ...], settings: ScanSettings) -> ScanReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bastion.scan import FileResult, scan_path

    columns = (
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("", total=None)

        def tick(done: int, total: int, result: FileResult) -> None:
            bar.update(task, completed=done, total=total, description=result.path[-60:])

        return scan_path(*paths, settings=settings, progress=tick)
