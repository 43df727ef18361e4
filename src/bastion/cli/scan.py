"""``bastion scan``: a thin layer over :func:`bastion.scan.scan_path`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bastion.cli._common import report_options
from bastion.cli._scan_run import run
from bastion.models import Severity

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
def scan(**params: Any) -> None:
    """Scan model files for code injection before anything loads them.

    PATHS are files or folders (scanned recursively). Formats are told apart by
    content, not by file name: pickles (protocols 0-5), PyTorch checkpoints (zip,
    legacy, TorchScript), NumPy, joblib, safetensors, GGUF, ONNX, Keras (.keras,
    .h5), TensorFlow SavedModel, JSON configs, chat templates, Python files, and
    zip/tar/gzip/bz2/xz archives of them. Nothing scanned is ever imported,
    unpickled or executed.
    """
    # click passes the parameters by name; run() declares and types them.
    run(**params)
