"""The terminal report: written to a file or a pipe it is plain text made without rich,
and it must read exactly as rich renders the same report without a terminal."""

from __future__ import annotations

import io

import pytest

from bastion.models import Finding, Location, Severity
from bastion.scan import FileResult, ScanIssue, ScanReport
from bastion.scan.report.as_text import render

ODD = "odd [bold]name[/]\twith\ttabs\r and :smile: \x07bell.pkl"


def _report() -> ScanReport:
    evil = Location("models/evil.pt", ("archive/data.pkl",), 35)
    return ScanReport(
        files=(
            FileResult("models/clean.pkl", 10, formats=("pickle",)),
            FileResult(
                "models/evil.pt",
                99,
                formats=("zip", "pytorch", "pickle"),
                findings=(
                    Finding("pickle.unknown-global", Severity.MEDIUM, "imports a.[b]", evil),
                    Finding("pickle.dangerous-global", Severity.CRITICAL, "calls os.system", evil),
                ),
            ),
            FileResult(
                ODD,
                5,
                formats=("pickle",),
                errors=(ScanIssue(Location(ODD), "stream ends\tearly", "Re-download [it]."),),
            ),
            FileResult("models/notes.txt", 3, skipped="text (not a model format)"),
        ),
        seconds=0.25,
    )


@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.parametrize("fail_on", [Severity.MEDIUM, Severity.CRITICAL])
def test_plain_text_reads_as_rich_renders_it(verbose: bool, fail_on: Severity) -> None:
    plain, rich = io.StringIO(), io.StringIO()
    render(_report(), plain, fail_on=fail_on, color=False, verbose=verbose)
    render(_report(), rich, fail_on=fail_on, color=None, verbose=verbose)  # not a terminal
    assert plain.getvalue() == rich.getvalue()
    assert "\x1b[" not in plain.getvalue()


def test_plain_text_keeps_names_as_they_are() -> None:
    out = io.StringIO()
    render(_report(), out, color=False, verbose=True)
    text = out.getvalue()
    assert "CRITICAL pickle.dangerous-global calls os.system in archive/data.pkl @35" in text
    assert "odd [bold]name[/]" in text  # no markup is read from names
    assert " and :smile: bell.pkl" in text  # nor emoji codes; CR and bell dropped, as rich does
    assert not {"\t", "\r", "\x07"} & set(text)
    assert "Formats: not a model format 1, pickle 2, zip+pytorch+pickle 1" in text
    assert "Rules: pickle.unknown-global 1, pickle.dangerous-global 1" in text
    assert text.rstrip().endswith("treat them as unsafe.")


def test_colour_when_asked_for() -> None:
    out = io.StringIO()
    render(_report(), out, color=True)
    assert "\x1b[" in out.getvalue()
