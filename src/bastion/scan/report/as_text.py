"""The terminal report. On a terminal it is drawn with rich; written to a file or a pipe it
is plain text, written without importing rich (which costs more than scanning a small file)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from bastion.models import Severity
from bastion.scan.base import ScanReport, Status

#: One line of the report: (text, rich style) pieces; an empty style is unstyled text.
Line = list[tuple[str, str]]

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
_STATUS = {
    Status.CLEAN: ("clean", "green"),
    Status.FINDINGS: ("findings", "red"),
    Status.ERROR: ("error", "bold magenta"),
    Status.SKIPPED: ("skipped", "dim"),
}
#: The control characters rich drops from text (bell, backspace, VT, FF, CR): the plain
#: report drops them too, so both read the same.
_DROP = dict.fromkeys((7, 8, 11, 12, 13))


def render(
    report: ScanReport,
    out: IO[str],
    *,
    fail_on: Severity = Severity.MEDIUM,
    color: bool | None = None,
    verbose: bool = False,
) -> None:
    """Write the report to ``out``: plain text when ``color`` is False, else with rich
    (``None``: colour when ``out`` is a terminal, as rich decides)."""
    lines = report_lines(report, fail_on=fail_on, verbose=verbose)
    if color is False:
        for line in lines:
            out.write("".join(text for text, _ in line).translate(_DROP).expandtabs(8) + "\n")
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=out, force_terminal=color, highlight=False, soft_wrap=True)
    for line in lines:
        console.print(Text.assemble(*line))


def report_lines(report: ScanReport, *, fail_on: Severity, verbose: bool) -> Iterator[Line]:
    """The report's lines: files that need attention (all with ``verbose``), a summary,
    for a folder a breakdown, and what to do."""
    for result in report.files:
        if result.status in (Status.CLEAN, Status.SKIPPED) and not verbose:
            continue
        fmt = "+".join(result.formats) or "-"
        line: Line = [_STATUS[result.status], (f"  {result.path}  ", ""), (f"({fmt})", "dim")]
        if result.skipped:
            line += [("  ", ""), (result.skipped, "dim")]
        yield line
        for f in sorted(result.findings, key=lambda f: -f.severity):
            where = "!".join(f.location.members)
            at = f" @{f.location.offset}" if f.location.offset is not None else ""
            yield [
                ("  ", ""),
                (f"{f.severity.label.upper():8}", _STYLE[f.severity]),
                (" ", ""),
                (f.rule, "bold"),
                (f" {f.message}", ""),
                ((" in " + where if where else "") + at, "dim"),
            ]
        for e in result.errors:
            yield [("  ", ""), ("ERROR", "bold magenta"), (f"    {e.message}", "")]
            if e.hint:
                yield [("           ", ""), (e.hint, "dim")]
    counts = {s: report.count(s) for s in Status}
    worst = report.max_severity
    code = report.exit_code(fail_on)
    yield [
        ("\n", ""),
        (f"{len(report.files)} files", "bold"),
        (
            f" in {report.seconds:.2f}s: {counts[Status.CLEAN]} clean, "
            f"{counts[Status.FINDINGS]} with findings, {counts[Status.ERROR]} errors, "
            f"{counts[Status.SKIPPED]} skipped (not model files). "
            f"Worst: {worst.label if worst is not None else 'none'}. Exit code {code}.",
            "",
        ),
    ]
    if len(report.files) > 1:
        yield from _breakdown(report)
    if code == 1:
        yield [
            ("Do not load files with findings", "red"),
            (" unless you trust their source; see the rule ids in the docs.", ""),
        ]
    elif code == 2:
        yield [
            ("Some files could not be scanned to the end", "magenta"),
            (": treat them as unsafe.", ""),
        ]


def _breakdown(report: ScanReport) -> Iterator[Line]:
    """For a folder: how many files of each format, and which rules fired how often."""
    from collections import Counter

    formats = Counter("+".join(r.formats) or "not a model format" for r in report.files)
    yield [("Formats: " + ", ".join(f"{k} {v}" for k, v in sorted(formats.items())), "")]
    rules = Counter(f.rule for f in report.findings)
    if rules:
        yield [("Rules: " + ", ".join(f"{k} {v}" for k, v in rules.most_common()), "")]
