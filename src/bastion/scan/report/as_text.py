"""The terminal report, rendered with rich (imported only when a report is printed)."""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from bastion.models import Severity
from bastion.scan.base import ScanReport, Status

if TYPE_CHECKING:
    from rich.console import Console

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
_STATUS = {
    Status.CLEAN: "[green]clean[/]",
    Status.FINDINGS: "[red]findings[/]",
    Status.ERROR: "[bold magenta]error[/]",
    Status.SKIPPED: "[dim]skipped[/]",
}


def render(
    report: ScanReport,
    out: IO[str],
    *,
    fail_on: Severity = Severity.MEDIUM,
    color: bool | None = None,
    verbose: bool = False,
) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(
        file=out, force_terminal=color, no_color=color is False, highlight=False, soft_wrap=True
    )
    for result in report.files:
        if result.status is Status.CLEAN and not verbose:
            continue
        if result.status is Status.SKIPPED and not verbose:
            continue
        fmt = "+".join(result.formats) or "-"
        line = f"{_STATUS[result.status]}  {escape(result.path)}  [dim]({escape(fmt)})[/]"
        if result.skipped:
            line += f"  [dim]{escape(result.skipped)}[/]"
        console.print(line)
        for f in sorted(result.findings, key=lambda f: -f.severity):
            where = "!".join(f.location.members)
            at = f" @{f.location.offset}" if f.location.offset is not None else ""
            console.print(
                f"  [{_STYLE[f.severity]}]{f.severity.label.upper():8}[/] "
                f"[bold]{escape(f.rule)}[/] {escape(f.message)}"
                f"[dim]{' in ' + escape(where) if where else ''}{at}[/]"
            )
        for e in result.errors:
            console.print(f"  [bold magenta]ERROR[/]    {escape(e.message)}")
            if e.hint:
                console.print(f"           [dim]{escape(e.hint)}[/]")
    counts = {s: report.count(s) for s in Status}
    worst = report.max_severity
    code = report.exit_code(fail_on)
    console.print(
        f"\n[bold]{len(report.files)} files[/] in {report.seconds:.2f}s: "
        f"{counts[Status.CLEAN]} clean, {counts[Status.FINDINGS]} with findings, "
        f"{counts[Status.ERROR]} errors, {counts[Status.SKIPPED]} skipped (not model files). "
        f"Worst: {worst.label if worst is not None else 'none'}. Exit code {code}."
    )
    if len(report.files) > 1:
        _breakdown(report, console)
    if code == 1:
        console.print(
            "[red]Do not load files with findings[/] unless you trust their source; "
            "see the rule ids in the docs."
        )
    elif code == 2:
        console.print(
            "[magenta]Some files could not be scanned to the end[/]: treat them as unsafe."
        )


def _breakdown(report: ScanReport, console: Console) -> None:
    """For a folder: how many files of each format, and which rules fired how often."""
    from collections import Counter

    formats = Counter("+".join(r.formats) or "not a model format" for r in report.files)
    console.print("Formats: " + ", ".join(f"{k} {v}" for k, v in sorted(formats.items())))
    rules = Counter(f.rule for f in report.findings)
    if rules:
        console.print("Rules: " + ", ".join(f"{k} {v}" for k, v in rules.most_common()))
