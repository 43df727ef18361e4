"""Streaming readers: JSON Lines, CSV, Parquet and Hugging Face ``datasets`` folders.

Every reader yields :class:`Record` objects and :class:`RowError` objects, one row at
a time, and never holds more than one row (or one Arrow batch) in memory. A bad row
(invalid JSON, bytes that are not UTF-8, a field over the size limit, an unknown
layout) becomes a RowError naming its location and the scan goes on. A file that
cannot be opened at all raises :class:`DatasetError`.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from bastion.data._normalise import LayoutError, normalise
from bastion.data.base import Record, RowError
from bastion.data.errors import DatasetError

#: A line (or CSV row) longer than this is reported and skipped, never parsed.
MAX_ROW_BYTES = 8 * 1024 * 1024
#: A ``.json`` file holding one JSON array is read whole only below this size.
MAX_JSON_ARRAY_BYTES = 256 * 1024 * 1024

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
ARROW_SUFFIXES = (".arrow",)
SUFFIXES = JSONL_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES + ARROW_SUFFIXES

Item = Record | RowError


class _Counter:
    """Numbers records across files."""

    def __init__(self) -> None:
        self.next = 0

    def record(self, prompt: str, response: str, location: str, raw: Mapping[str, Any]) -> Record:
        rec = Record(self.next, prompt, response, location, raw)
        self.next += 1
        return rec


def _from_mapping(counter: _Counter, row: Any, location: str) -> Item:
    if not isinstance(row, Mapping):
        return RowError(location, f"expected a JSON object, found {type(row).__name__}")
    try:
        prompt, response = normalise(row)
    except LayoutError as exc:
        return RowError(location, str(exc))
    return counter.record(prompt, response, location, row)


def _lines(stream: BinaryIO, name: str) -> Iterator[tuple[int, bytes | RowError]]:
    """(line number, bytes) for each line; an over-long line becomes a RowError."""
    number = 0
    while True:
        line = stream.readline(MAX_ROW_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_ROW_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # skip the rest of the line
                line = stream.readline(1024 * 1024)
            yield number, RowError(f"{name}:{number}", f"line over {MAX_ROW_BYTES} bytes; skipped")
            continue
        yield number, line


#: The C scanner behind ``json.loads``, called directly: a line that is one object with
#: only JSON whitespace around it needs none of the wrapper's checks. Anything else goes
#: through ``json.loads``, which gives the same value or the same error as always.
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]
_JSON_SPACE = " \t\n\r"


def _json_row(line: bytes, where: str) -> Any:
    """Decode one JSON value; raises ValueError with a short reason."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte {exc.start})") from None
    if text[:1] == "{":
        try:
            value, end = _scan(text, 0)
        except (StopIteration, ValueError, RecursionError):
            pass
        else:
            if end == len(text) or not text[end:].strip(_JSON_SPACE):
                return value
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None


def read_jsonl(path: Path, counter: _Counter, name: str) -> Iterator[Item]:
    with _open(path) as stream:
        head = stream.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        stream.seek(0)
        if head.startswith(b"["):
            yield from _read_json_array(stream, path, counter, name)
            return
        if stream.read(3) != b"\xef\xbb\xbf":
            stream.seek(0)
        for number, line in _lines(stream, name):
            if isinstance(line, RowError):
                yield line
                continue
            if not line.strip():
                continue
            where = f"{name}:{number}"
            try:
                value = _json_row(line, where)
            except ValueError as exc:
                yield RowError(where, str(exc))
                continue
            yield _from_mapping(counter, value, where)


def _read_json_array(stream: BinaryIO, path: Path, counter: _Counter, name: str) -> Iterator[Item]:
    size = os.fstat(stream.fileno()).st_size
    if size > MAX_JSON_ARRAY_BYTES:
        raise DatasetError(
            f"{name} is one JSON array of {size} bytes; too big to read whole",
            hint="Convert it to JSON Lines (one object per line) and scan that.",
        )
    try:
        rows = json.loads(stream.read().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DatasetError(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(rows, list):
        raise DatasetError(f"{name} holds a JSON {type(rows).__name__}, not rows")
    for i, row in enumerate(rows):
        yield _from_mapping(counter, row, f"{name}[{i}]")


def _decoded_lines(stream: BinaryIO, name: str, errors: list[RowError]) -> Iterator[str]:
    """Text lines for the csv module; undecodable bytes are kept as surrogates."""
    first = True
    for _, line in _lines(stream, name):
        if isinstance(line, RowError):
            errors.append(line)
            continue
        if first and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        first = False
        yield line.decode("utf-8", "surrogateescape")


def read_csv(path: Path, counter: _Counter, name: str) -> Iterator[Item]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    errors: list[RowError] = []
    with _open(path) as stream:
        reader = csv.reader(_decoded_lines(stream, name, errors), delimiter=delimiter)
        header: list[str] | None = None
        failures = 0
        while True:
            fields: list[str] | csv.Error | None
            try:
                fields = next(reader)
            except StopIteration:
                fields = None
            except csv.Error as exc:
                fields = exc
            yield from errors
            errors.clear()
            if fields is None:
                break
            if isinstance(fields, csv.Error):
                failures += 1
                yield RowError(f"{name}:{reader.line_num}", f"invalid CSV: {fields}")
                if failures > 1000:
                    raise DatasetError(f"{name}: over 1000 CSV errors; is it CSV?")
                continue
            where = f"{name}:{reader.line_num}"
            if any("\udc80" <= c <= "\udcff" for f in fields for c in f):
                yield RowError(where, "not UTF-8")
                continue
            if header is None:
                header = [h.strip() for h in fields]
                continue
            if not fields:
                continue
            if len(fields) != len(header):
                yield RowError(where, f"{len(fields)} fields; the header has {len(header)}")
                continue
            yield _from_mapping(counter, dict(zip(header, fields, strict=True)), where)


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise DatasetError(f"cannot read {path}: {exc.strerror or exc}") from None


def read_file(path: Path, counter: _Counter, name: str) -> Iterator[Item]:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return read_csv(path, counter, name)
    if suffix in PARQUET_SUFFIXES:
        from bastion.data import arrow

        return arrow.read_parquet(path, counter, name)
    if suffix in ARROW_SUFFIXES:
        from bastion.data import arrow

        return arrow.read_arrow(path, counter, name)
    return read_jsonl(path, counter, name)


def dataset_files(path: Path) -> list[Path]:
    """The files making up a dataset: the file itself, a ``datasets`` folder's Arrow
    files in order, or every supported file under a folder (sorted)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DatasetError(f"{path} does not exist", hint="Give a dataset file or folder.")
    from bastion.data import arrow

    saved = arrow.saved_dataset_files(path)
    if saved is not None:
        return saved
    found = sorted(
        (p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES),
        key=lambda p: p.relative_to(path).parts,
    )
    if not found:
        raise DatasetError(
            f"no dataset files in {path}",
            hint="Bastion reads .jsonl, .json, .csv, .tsv, .parquet and `datasets` folders.",
        )
    return found


def iter_dataset(paths: Iterable[Path]) -> Iterator[Item]:
    """Every record of the dataset made of ``paths``, numbered from 0 across files."""
    counter = _Counter()
    for root in paths:
        for file in dataset_files(root):
            yield from read_file(file, counter, _display(root, file))


def _display(root: Path, file: Path) -> str:
    if root.is_dir():
        return (Path(root.name) / file.relative_to(root)).as_posix()
    return file.as_posix()
