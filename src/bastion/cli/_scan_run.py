"""What ``bastion scan`` does once its arguments are read, by click (:mod:`bastion.cli.scan`)
or by the click-free reader (:mod:`bastion.cli._scan_args`): one implementation for both."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from bastion.cli._exit import fail, fail_os
from bastion.config import load_scan_settings
from bastion.errors import BastionError
from bastion.models import Severity

if TYPE_CHECKING:
    from bastion.config import ScanSettings
    from bastion.scan import ScanReport


def run(
    paths: tuple[Path, ...],
    *,
    fmt: str,
    output: Path | None,
    fail_on: str | None,
    policies: tuple[Path, ...],
    workers: int | None,
    config: Path | None,
    sbom: Path | None,
    verbose: bool,
    progress: bool | None,
) -> NoReturn:
    """Scan ``paths``, write the report, and exit with the documented code."""
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
        sys.stdout.write(text)
        sys.stdout.flush()
    sys.exit(report.exit_code(threshold))


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail_os(exc, f"cannot write {path}")


def _render(
    report: ScanReport, fmt: str, threshold: Severity, verbose: bool, output: Path | None
) -> str:
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
