"""Write a copy of a dataset without flagged rows, or with private data redacted.

Copies are JSON Lines (CSV when the output name ends in ``.csv``), one row per line
with every field the row had; they are written to a temporary file and renamed, so
a failed write never leaves half a dataset under the output name.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from bastion.data.base import Record
from bastion.data.detectors.private import redact_text
from bastion.data.engine import iter_records
from bastion.data.errors import DatasetError


@dataclass(frozen=True, slots=True)
class WriteResult:
    path: Path
    written: int
    dropped: int = 0
    changed: int = 0


@contextmanager
def _atomic(out: Path) -> Iterator[IO[str]]:
    folder = out.parent if str(out.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".bastion-data-", dir=folder)
    except OSError as exc:
        raise DatasetError(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            yield stream
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise


def _rows_out(records: Iterator[Mapping[str, Any]], out: Path) -> int:
    n = 0
    with _atomic(out) as stream:
        if out.suffix.lower() == ".csv":
            writer: csv.DictWriter[str] | None = None
            for row in records:
                if writer is None:
                    writer = csv.DictWriter(stream, fieldnames=list(row), extrasaction="ignore")
                    writer.writeheader()
                writer.writerow(
                    {
                        k: v if isinstance(v, str) else json.dumps(v, default=str)
                        for k, v in row.items()
                    }
                )
                n += 1
        else:
            for row in records:
                stream.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
                n += 1
    return n


def write_clean(
    paths: Collection[str | os.PathLike[str]], out: Path, drop: Collection[int]
) -> WriteResult:
    """Every readable row of the dataset except those whose index is in ``drop``."""
    dropped = 0

    def kept() -> Iterator[Mapping[str, Any]]:
        nonlocal dropped
        for record in iter_records(*paths):
            if record.index in drop:
                dropped += 1
                continue
            yield record.raw

    written = _rows_out(kept(), out)
    return WriteResult(out, written, dropped=dropped)


def _redact(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, Mapping):
        return {k: _redact(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, fn) for v in value]
    return value


def write_redacted(paths: Collection[str | os.PathLike[str]], out: Path) -> WriteResult:
    """Every readable row, with secrets and personal data in any text field redacted."""
    changed = 0

    def rows() -> Iterator[Mapping[str, Any]]:
        nonlocal changed
        for record in iter_records(*paths):
            redacted = _redact(dict(record.raw), redact_text)
            if redacted != record.raw:
                changed += 1
            yield redacted

    written = _rows_out(rows(), out)
    return WriteResult(out, written, changed=changed)


def redacted_record(record: Record) -> Record:
    """The record with its prompt and response redacted (for reports and previews)."""
    return Record(
        record.index,
        redact_text(record.prompt),
        redact_text(record.response),
        record.location,
        record.raw,
    )
