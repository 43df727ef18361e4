"""``bastion data scan|sign|verify``: thin layers over :mod:`bastion.data` and
:mod:`bastion.integrity.datasets`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bastion.cli._common import EXIT_OK, fail, fail_os, report_options
from bastion.cli._sign_run import deny
from bastion.cli.signing import _load_passphrase_for, _passphrase_option
from bastion.errors import BastionError, VerificationError
from bastion.models import Severity

if TYPE_CHECKING:
    from bastion.data import DataReport, Detector

SEVERITIES = [s.label for s in Severity]

SCAN_EPILOG = """\b
Exit codes:
  0  no finding at or above --fail-on
  1  findings at or above --fail-on
  2  rows that could not be read (more than --max-row-errors), an
     unreadable dataset, or the command was used wrongly

\b
Examples:
  bastion data scan train.jsonl
  bastion data scan ./my-dataset/ --format sarif -o data.sarif --fail-on medium
  bastion data scan train.parquet --write-clean clean.jsonl --write-redacted redacted.jsonl
"""

VERIFY_EPILOG = """\b
Exit codes:
  0  the signature is good and every record matches
  1  verification failed: a record was changed, added or removed (the first
     one is named), or the signature does not match the key
  2  unreadable signature, key or dataset
"""


@click.group()
def data() -> None:
    """Scan training data for poisoned, injected and private records; sign datasets."""


@data.command(epilog=SCAN_EPILOG)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@report_options
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES, case_sensitive=False),
    default="high",
    show_default=True,
    help="Lowest severity that makes the exit code 1.",
)
@click.option(
    "--detectors",
    default=None,
    help="Comma-separated detectors to run.  [default: all: triggers, payloads, "
    "instructions, duplicates, anomalies, private]",
)
@click.option(
    "--write-clean",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the dataset without flagged rows (JSON Lines, or CSV for a .csv name).",
)
@click.option(
    "--drop-severity",
    type=click.Choice(SEVERITIES, case_sensitive=False),
    default="medium",
    show_default=True,
    help="With --write-clean: drop rows named by findings at or above this severity.",
)
@click.option(
    "--write-redacted",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the dataset with secrets and personal data redacted.",
)
@click.option(
    "--max-row-errors",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Unreadable rows tolerated before the exit code is 2.",
)
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar [default: on a terminal]."
)
def scan(
    paths: tuple[Path, ...],
    fmt: str,
    output: Path | None,
    fail_on: str,
    detectors: str | None,
    write_clean: Path | None,
    drop_severity: str,
    write_redacted: Path | None,
    max_row_errors: int,
    progress: bool | None,
) -> None:
    """Scan instruction or chat data for backdoor triggers, injected payloads, hidden
    instructions, duplicates, anomalies, secrets and personal data.

    PATHS are JSON Lines (prompt/response, instruction/input/output, OpenAI messages),
    CSV, Parquet files, `datasets` folders saved with save_to_disk, or folders of
    those. The data is streamed in a few passes; memory stays bounded.
    """
    from bastion.data import default_detectors, scan_dataset

    threshold = Severity.parse(fail_on)
    try:
        chosen = default_detectors(
            [d.strip() for d in detectors.split(",") if d.strip()] if detectors else None
        )
        show_bar = sys.stderr.isatty() if progress is None else progress
        if show_bar:
            report = _scan_with_bar(paths, chosen)
        else:
            report = scan_dataset(*paths, detectors=chosen)
        notes = _copies(report, paths, write_clean, Severity.parse(drop_severity), write_redacted)
    except BastionError as exc:
        fail(exc)
    except OSError as exc:
        fail_os(exc)
    _emit(_render(report, fmt, threshold), output)
    for note in notes:
        click.echo(note, err=True)
    sys.exit(report.exit_code(threshold, max_row_errors=max_row_errors))


def _copies(
    report: DataReport,
    paths: tuple[Path, ...],
    clean_out: Path | None,
    drop: Severity,
    redacted_out: Path | None,
) -> list[str]:
    """Write the clean and redacted copies asked for; one line to print for each."""
    from bastion.data import DatasetError, write_clean, write_redacted

    notes = []
    if clean_out is not None:
        if any(f.count > len(f.rows) for f in report.findings if f.severity >= drop):
            raise DatasetError(
                "a finding names more rows than the report keeps; no clean copy written",
                hint="Split the dataset, or raise the detectors' max_rows in the library.",
            )
        result = write_clean(paths, clean_out, report.flagged(drop))
        notes.append(f"wrote {result.written} rows to {result.path} ({result.dropped} dropped)")
    if redacted_out is not None:
        result = write_redacted(paths, redacted_out)
        notes.append(f"wrote {result.written} rows to {result.path} ({result.changed} redacted)")
    return notes


def _render(report: DataReport, fmt: str, threshold: Severity) -> str:
    from bastion.data import report as render

    if fmt == "json":
        return render.to_json(report, threshold) + "\n"
    if fmt == "sarif":
        return render.to_sarif(report) + "\n"
    return render.to_text(report, threshold)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail_os(exc, f"cannot write {output}")


def _scan_with_bar(paths: tuple[Path, ...], chosen: list[Detector]) -> DataReport:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bastion.data import scan_dataset

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("pass 1", total=None)

        def tick(pass_no: int, done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total, description=f"pass {pass_no}")

        return scan_dataset(*paths, detectors=chosen, progress=tick)


_key_option = click.option(
    "--key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Private key (PEM) to sign with; encrypted keys ask for their passphrase.",
)
_signature_option = click.option(
    "--signature",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Signature file.  [default: NAME.sig beside a file, dataset.sig in a folder]",
)


@data.command(
    epilog="\b\nExamples:\n  bastion data sign train.jsonl --key me.key\n"
    "  bastion data sign ./my-dataset --key me.key --signature my-dataset.sig"
)
@click.argument("dataset", type=click.Path(exists=True, path_type=Path))
@_key_option
@_signature_option
@_passphrase_option
def sign(dataset: Path, key: Path, signature: Path | None, passphrase_file: Path | None) -> None:
    """Sign DATASET record by record (per-record SHA-256 and a Merkle root)."""
    from bastion.integrity import KeySigner
    from bastion.integrity.datasets import sign_dataset

    passphrase = _load_passphrase_for(key, passphrase_file)
    try:
        out = sign_dataset(
            dataset, KeySigner.from_file(key, passphrase=passphrase), signature_path=signature
        )
    except BastionError as exc:
        fail(exc)
    except OSError as exc:
        fail_os(exc)
    click.echo(f"signed {dataset} -> {out}")


@data.command(epilog=VERIFY_EPILOG)
@click.argument("dataset", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Public key (PEM) of the signer.",
)
@_signature_option
def verify(dataset: Path, key: Path, signature: Path | None) -> None:
    """Verify DATASET against its signature: exit 0 only if every record matches."""
    from bastion.integrity import BadBundleError, BadStatementError, KeyVerifier
    from bastion.integrity.datasets import DatasetMismatchError, verify_dataset

    try:
        manifest = verify_dataset(dataset, KeyVerifier.from_file(key), signature_path=signature)
    except DatasetMismatchError as exc:
        deny(exc)
    except (BadBundleError, BadStatementError) as exc:
        fail(exc)
    except VerificationError as exc:
        deny(exc)
    except BastionError as exc:
        fail(exc)
    click.echo(f"verified: {dataset} ({manifest.records} records, root {manifest.root.hex()})")
    sys.exit(EXIT_OK)
