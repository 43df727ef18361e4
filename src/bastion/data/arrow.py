"""Parquet files and Hugging Face ``datasets`` folders, read with pyarrow in batches.

pyarrow is an optional dependency (the ``data`` extra); it is imported only when a
Parquet or Arrow file is read. A ``datasets`` folder saved with ``save_to_disk`` holds
``state.json`` (naming its Arrow IPC stream files in order) and ``dataset_info.json``;
a ``DatasetDict`` folder holds ``dataset_dict.json`` and one such folder per split.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bastion.data.base import RowError
from bastion.data.errors import DatasetError

if TYPE_CHECKING:
    from bastion.data.readers import Item, _Counter

BATCH_ROWS = 1024
MAX_STATE_BYTES = 16 * 1024 * 1024


def _pyarrow() -> Any:
    try:
        import pyarrow  # type: ignore[import-untyped]
        import pyarrow.ipc  # type: ignore[import-untyped]
        import pyarrow.parquet  # type: ignore[import-untyped]
    except ImportError:
        raise DatasetError(
            "reading Parquet and Arrow files needs pyarrow",
            hint="Install it: pip install 'bastion-ml[data]'.",
        ) from None
    return pyarrow


def _rows(batches: Iterator[Any], counter: _Counter, name: str) -> Iterator[Item]:
    from bastion.data.readers import _from_mapping

    number = 0
    for batch in batches:
        for row in batch.to_pylist():
            yield _from_mapping(counter, row, f"{name}#{number}")
            number += 1


def read_parquet(path: Path, counter: _Counter, name: str) -> Iterator[Item]:
    pa = _pyarrow()
    try:
        parquet = pa.parquet.ParquetFile(path)
        batches = parquet.iter_batches(batch_size=BATCH_ROWS)
        yield from _guarded(_rows(batches, counter, name), pa, name)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"{name} is not a readable Parquet file: {exc}") from None


def read_arrow(path: Path, counter: _Counter, name: str) -> Iterator[Item]:
    """An Arrow IPC stream (what ``datasets`` writes) or an Arrow IPC file."""
    pa = _pyarrow()
    try:
        with open(path, "rb") as stream:
            magic = stream.read(6)
            stream.seek(0)
            if magic == b"ARROW1":
                reader = pa.ipc.open_file(stream)
                batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
            else:
                batches = iter(pa.ipc.open_stream(stream))
            yield from _guarded(_rows(batches, counter, name), pa, name)
    except (OSError, pa.ArrowException) as exc:
        raise DatasetError(f"{name} is not a readable Arrow file: {exc}") from None


def _guarded(items: Iterator[Item], pa: Any, name: str) -> Iterator[Item]:
    """Turn a corrupt batch in the middle of a file into one RowError, then stop."""
    try:
        yield from items
    except (pa.ArrowException, ValueError) as exc:
        yield RowError(name, f"unreadable from here on: {exc}")


def _json(path: Path) -> Any:
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_STATE_BYTES + 1)
        if len(data) > MAX_STATE_BYTES:
            raise DatasetError(f"{path} is too big for a datasets state file")
        return json.loads(data)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"cannot read {path}: {exc}") from None


def _split_files(folder: Path) -> list[Path]:
    state = _json(folder / "state.json")
    files = state.get("_data_files") if isinstance(state, dict) else None
    if not isinstance(files, list):
        raise DatasetError(f"{folder / 'state.json'} has no _data_files list")
    out: list[Path] = []
    for entry in files:
        name = entry.get("filename") if isinstance(entry, dict) else None
        if not isinstance(name, str) or "/" in name or "\\" in name or name.startswith("."):
            raise DatasetError(f"{folder / 'state.json'} names a bad data file: {name!r}")
        out.append(folder / name)
    return out


def saved_dataset_files(folder: Path) -> list[Path] | None:
    """The Arrow files of a folder written by ``save_to_disk``, or None if it is not one."""
    if (folder / "state.json").is_file():
        return _split_files(folder)
    if (folder / "dataset_dict.json").is_file():
        info = _json(folder / "dataset_dict.json")
        splits = info.get("splits") if isinstance(info, dict) else None
        if not isinstance(splits, list):
            raise DatasetError(f"{folder / 'dataset_dict.json'} has no splits list")
        out: list[Path] = []
        for split in splits:
            if not isinstance(split, str) or "/" in split or split.startswith("."):
                raise DatasetError(f"bad split name {split!r} in {folder}")
            out.extend(_split_files(folder / split))
        return out
    return None
