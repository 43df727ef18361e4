"""Exact and near duplicates, and one response copied across different prompts.

Exact duplicates compare whitespace- and case-folded prompt and response. Near
duplicates use bottom-k MinHash over word 3-grams (:mod:`bastion.data._minhash`): a
row that shares an LSH key with an earlier row, and whose estimated Jaccard similarity
to it is at least ``threshold``, is a near duplicate of it. The indexes are capped
(``max_index`` rows); past the cap, new rows are still checked against the indexed
ones but no longer added, and the report says so. Duplicates inflate what the model
memorises and are how a few poisoned rows get weight: LOW, for review.
"""

from __future__ import annotations

from typing import ClassVar

from bastion.data import _minhash
from bastion.data._stats import CappedCounter
from bastion.data.base import DataFinding, Row
from bastion.data.detectors._collect import MAX_ROWS, Rows
from bastion.models import Severity

#: Responses shorter than this many words ("Yes.", "Paris") are legitimately shared.
MIN_COPY_WORDS = 8


class Duplicates:
    """Exact duplicates, near duplicates (MinHash LSH), copied responses."""

    name: ClassVar[str] = "duplicates"
    #: The most passes it takes (the engine keeps a small dataset in memory for more than 1).
    passes: ClassVar[int] = 2

    def __init__(
        self,
        *,
        threshold: float = 0.7,
        max_index: int = 1_000_000,
        max_near_index: int = 200_000,
        max_rows: int = MAX_ROWS,
    ) -> None:
        self.threshold = threshold
        self.max_index = max_index
        self.max_near_index = max_near_index
        self.exact_index: set[int] = set()
        self.band_index: dict[int, int] = {}
        self.signatures: dict[int, bytes] = {}
        self._pass = 1
        self.responses: CappedCounter[int] = CappedCounter(max_index)
        self.exact = Rows(max_rows)
        self.near = Rows(max_rows)
        self.copied = Rows(max_rows)
        self.clusters = 0
        self.full_at: int | None = None
        self.copy_seen: dict[int, int] = {}

    def begin(self, pass_no: int) -> bool:
        self._pass = pass_no
        if pass_no == 2:
            self.copy_seen = dict.fromkeys(self.responses.at_least(2), 0)
            self.responses = CappedCounter(1)
        return pass_no == 1 or (pass_no == 2 and bool(self.copy_seen))

    def observe(self, row: Row) -> None:
        if self._pass == 2:
            self._copies(row)
            return
        record = row.record
        if row.response_word_count >= MIN_COPY_WORDS:
            self.responses.add(row.response_key)
        key = hash((row.prompt_key, row.response_key))
        if key in self.exact_index:
            self.exact.add(record)
            return
        if len(self.exact_index) < self.max_index:
            self.exact_index.add(key)
        elif self.full_at is None:
            self.full_at = record.index
        sig = _minhash.pair_sketch(
            row.prompt_word_bytes,
            row.response_word_bytes,
            row.response_shingles,
            row.response_bottom,
        )
        keys = _minhash.keys(sig)
        for band_key in keys:
            hit = self.band_index.get(band_key)
            if hit is not None and _minhash.similar(
                sig, _minhash.unpack(self.signatures[hit]), self.threshold
            ):
                self.near.add(record)
                return
        if len(self.signatures) < self.max_near_index:
            self.signatures[record.index] = _minhash.pack(sig)
            for band_key in keys:
                self.band_index.setdefault(band_key, record.index)
        elif self.full_at is None:
            self.full_at = record.index

    def _copies(self, row: Row) -> None:
        seen = self.copy_seen.get(row.response_key)
        if seen is None:
            return
        if seen and seen != row.prompt_key:
            self.copied.add(row.record)
        elif not seen:
            self.copy_seen[row.response_key] = row.prompt_key

    def findings(self) -> list[DataFinding]:
        out = []
        note = {} if self.full_at is None else {"index_full_from_row": self.full_at}
        if self.exact.count:
            out.append(
                self.exact.finding(
                    "duplicate.exact",
                    Severity.LOW,
                    f"{self.exact.count} row(s) repeat an earlier row exactly",
                    0.5,
                    note,
                )
            )
        if self.near.count:
            out.append(
                self.near.finding(
                    "duplicate.near",
                    Severity.LOW,
                    f"{self.near.count} row(s) are near duplicates of an earlier row "
                    f"(estimated Jaccard >= {self.threshold})",
                    0.4,
                    {**note, "threshold": self.threshold},
                )
            )
        if self.copied.count:
            out.append(
                self.copied.finding(
                    "duplicate.copied-response",
                    Severity.LOW,
                    f"{self.copied.count} row(s) copy a response given to a different prompt",
                    0.4,
                    {"min_words": MIN_COPY_WORDS},
                )
            )
        return out
