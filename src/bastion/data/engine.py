"""Run detectors over a dataset in streaming passes and gather one report.

The first pass streams the dataset from disk. When a detector wants more than one pass
and the dataset is small (its files take at most a quarter of ``cache_bytes``, 512 MiB
by default, and its rows, as they are read, less than all of it), the first pass keeps
its rows, with the small features the detectors computed (keys, MinHash bands, sentence
keys), and later passes run over those; a larger dataset is read again for each pass
(the readers stream), so memory is what the detectors keep, not what the dataset holds.
Kept rows are frozen out of the cyclic garbage collector until the scan ends.
Rows that cannot be read are collected on the first pass (up to ``max_errors`` kept,
all counted)."""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bastion.data.base import DataFinding, Detector, Record, Row, RowError
from bastion.data.detectors import DETECTORS
from bastion.data.errors import DatasetError
from bastion.data.readers import dataset_files, iter_dataset
from bastion.models import Severity

#: Called with (pass number, rows read so far in this pass, rows in the dataset or None).
Progress = Callable[[int, int, int | None], None]
MAX_PASSES = 8
PROGRESS_EVERY = 4096
#: Rows kept in memory between passes up to this estimate of their size.
CACHE_BYTES = 512 * 2**20
#: What a kept row costs beyond its two texts: the record, its raw row and location,
#: the row and its small features (measured: about 1,130 bytes on JSON Lines).
ROW_OVERHEAD = 1152
#: Rows are not even tried when the files take more than this share of ``cache_bytes``
#: (parsed rows of JSON Lines take about four times their bytes), so a large dataset
#: never holds rows it would drop.
FILE_SHARE = 4
#: While the first pass keeps rows, every this many rows the objects alive so far are
#: moved out of the cyclic collector's reach (``gc.freeze``, undone when the scan ends).
#: Kept rows live until the scan ends and hold no cycles, yet each full collection would
#: walk all of them again: on 200,000 rows that was a sixth of a payload scan's time.
FREEZE_EVERY = 4096


@dataclass(frozen=True, slots=True)
class DataReport:
    """What a dataset scan found. ``records`` counts rows read; ``error_count`` rows not."""

    paths: tuple[str, ...]
    records: int
    findings: tuple[DataFinding, ...]
    errors: tuple[RowError, ...] = ()
    error_count: int = 0
    passes: int = 0
    seconds: float = 0.0
    detectors: tuple[str, ...] = field(default=())

    @property
    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def flagged(self, at_least: Severity = Severity.MEDIUM) -> set[int]:
        """Indices of the rows named by findings at or above ``at_least``."""
        rows: set[int] = set()
        for finding in self.findings:
            if finding.severity >= at_least:
                rows.update(finding.rows)
        return rows

    def exit_code(self, fail_on: Severity = Severity.HIGH, *, max_row_errors: int = 0) -> int:
        """0 clean, 1 findings at or above ``fail_on``, 2 rows that could not be read."""
        if self.error_count > max_row_errors or (self.records == 0 and self.error_count):
            return 2
        worst = self.max_severity
        return 1 if worst is not None and worst >= fail_on else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "paths": list(self.paths),
            "records": self.records,
            "passes": self.passes,
            "seconds": round(self.seconds, 3),
            "detectors": list(self.detectors),
            "max_severity": self.max_severity.label if self.max_severity is not None else None,
            "findings": [f.to_dict() for f in self.findings],
            "error_count": self.error_count,
            "errors": [{"location": e.location, "message": e.message} for e in self.errors],
        }


def default_detectors(names: Iterable[str] | None = None) -> list[Detector]:
    chosen = list(DETECTORS) if names is None else list(names)
    unknown = [n for n in chosen if n not in DETECTORS]
    if unknown:
        raise DatasetError(
            f"unknown detector(s): {', '.join(unknown)}",
            hint=f"Choose from: {', '.join(DETECTORS)}.",
        )
    return [DETECTORS[n]() for n in chosen]


def scan_dataset(
    *paths: str | os.PathLike[str],
    detectors: Sequence[Detector] | None = None,
    progress: Progress | None = None,
    max_errors: int = 1000,
    cache_bytes: int = CACHE_BYTES,
) -> DataReport:
    """Scan the dataset made of ``paths`` (files or folders) with ``detectors``.

    ``cache_bytes`` bounds the memory that rows kept between passes may take (0: read
    the dataset again for every pass).
    """
    if not paths:
        raise DatasetError("no dataset given")
    roots = [Path(p) for p in paths]
    active_detectors = list(detectors) if detectors is not None else default_detectors()
    start = time.perf_counter()
    errors: list[RowError] = []
    error_count = 0
    records: int | None = None
    passes = 0
    # A detector that does not say how many passes it needs may need several.
    keep = (
        cache_bytes > 0
        and any(
            getattr(d, "passes", 2) > 1 and getattr(d, "reuses_rows", True)
            for d in active_detectors
        )
        and _file_bytes(roots) * FILE_SHARE <= cache_bytes
    )
    kept: list[Row] | None = None
    # Not when the caller froze objects itself: unfreezing would undo that too.
    freeze = keep and gc.isenabled() and gc.get_freeze_count() == 0
    try:
        for pass_no in range(1, MAX_PASSES + 1):
            active = [d for d in active_detectors if d.begin(pass_no)]
            if not active:
                break
            passes = pass_no
            if kept is not None:
                count = _replay(kept, active, pass_no, records, progress)
            else:
                count, kept, error_count = _read(
                    roots, active, pass_no, records, progress, errors, error_count, max_errors,
                    cache_bytes if keep and pass_no == 1 else 0, freeze=freeze,
                )  # fmt: skip
            if records is None:
                records = count
            if progress is not None:
                progress(pass_no, count, records)
    finally:
        if freeze:
            gc.unfreeze()
    findings = [f for d in active_detectors for f in d.findings()]
    findings.sort(key=lambda f: (-f.severity, -f.count, f.rule))
    return DataReport(
        paths=tuple(str(p) for p in roots),
        records=records or 0,
        findings=tuple(findings),
        errors=tuple(errors),
        error_count=error_count,
        passes=passes,
        seconds=time.perf_counter() - start,
        detectors=tuple(d.name for d in active_detectors),
    )


def _file_bytes(roots: list[Path]) -> int:
    return sum(f.stat().st_size for root in roots for f in dataset_files(root))


def _observers(active: list[Detector]) -> list[Callable[[Row], None]]:
    return [d.observe for d in active]


def _read(
    roots: list[Path],
    active: list[Detector],
    pass_no: int,
    records: int | None,
    progress: Progress | None,
    errors: list[RowError],
    error_count: int,
    max_errors: int,
    cache_bytes: int,
    *,
    freeze: bool = False,
) -> tuple[int, list[Row] | None, int]:
    """One pass from disk; keeps the rows while they fit in ``cache_bytes``."""
    observers = _observers(active)
    kept: list[Row] | None = [] if cache_bytes > 0 else None
    size = 0
    count = 0
    for item in iter_dataset(roots):
        if isinstance(item, RowError):
            if pass_no == 1:
                error_count += 1
                if len(errors) < max_errors:
                    errors.append(item)
            continue
        row = Row(item)
        for observe in observers:
            observe(row)
        count += 1
        if kept is not None:
            row.forget()
            kept.append(row)
            size += sys.getsizeof(item.prompt) + sys.getsizeof(item.response) + ROW_OVERHEAD
            if size > cache_bytes:
                kept = None  # too big to keep: later passes read the files again
            elif freeze and count % FREEZE_EVERY == 0:
                gc.freeze()
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(pass_no, count, records)
    return count, kept, error_count


def _replay(
    kept: list[Row],
    active: list[Detector],
    pass_no: int,
    records: int | None,
    progress: Progress | None,
) -> int:
    """One pass over the rows kept in memory, in the same order as from disk."""
    observers = _observers(active)
    if progress is None and len(observers) == 1:
        observe = observers[0]
        for row in kept:
            observe(row)
            row.forget()
        return len(kept)
    for count, row in enumerate(kept, start=1):
        for observe in observers:
            observe(row)
        row.forget()
        if progress is not None and count % PROGRESS_EVERY == 0:
            progress(pass_no, count, records)
    return len(kept)


def iter_records(*paths: str | os.PathLike[str]) -> Iterable[Record]:
    """The dataset's readable records, in order (unreadable rows are skipped)."""
    for item in iter_dataset([Path(p) for p in paths]):
        if isinstance(item, Record):
            yield item
