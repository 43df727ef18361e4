"""Exact and near duplicates, and one response copied across different prompts.

Exact duplicates compare whitespace- and case-folded prompt and response. Near
duplicates use bottom-k MinHash over word 3-grams (:mod:`bastion.data._minhash`): a
row that shares an LSH key with an earlier row, and whose estimated Jaccard similarity
to it is at least ``threshold``, is a near duplicate of it. A copied response is one
given earlier, word for word once folded, to a different prompt (the first row that
gave it is not flagged). The indexes are capped (``max_index`` rows); past the cap, new
rows are still checked against the indexed ones but no longer added, and the report says
so. Duplicates inflate what the model memorises and are how a few poisoned rows get
weight: LOW, for review.

One pass. Rows are taken in batches of ``BATCH``, whose sketches, and the exact-duplicate
keys of their ASCII texts, are computed together
(:func:`bastion.data._minhash.pair_sketches`), then checked one by one in reading order,
so the findings are the ones a row-by-row scan gives.
"""

from __future__ import annotations

from operator import attrgetter
from typing import ClassVar

from bastion.data import _minhash
from bastion.data.base import DataFinding, Row, text_key, word_source
from bastion.data.detectors._collect import MAX_ROWS, Rows
from bastion.models import Severity

#: Responses shorter than this many words ("Yes.", "Paris") are legitimately shared.
MIN_COPY_WORDS = 8
#: Rows whose sketches are computed together (numpy's cost per call, spread over them).
BATCH = _minhash.BATCH
_RECORD = attrgetter("record")
_PROMPT = attrgetter("prompt")
_RESPONSE = attrgetter("response")


def _non_ascii_keys(texts: list[str], keys: list[int]) -> None:
    """Put the :func:`bastion.data.base.text_key` of each text that is not ASCII in
    ``keys`` (the batch sketched its words only)."""
    for i, text in enumerate(texts):
        if not text.isascii():
            keys[i] = text_key(text)


class Duplicates:
    """Exact duplicates, near duplicates (MinHash LSH), copied responses."""

    name: ClassVar[str] = "duplicates"
    #: The most passes it takes (the engine keeps a small dataset in memory for more than 1).
    passes: ClassVar[int] = 1

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
        #: A dict rather than a set: a dict of numbers leaves the cyclic collector's
        #: reach, where a set of 1,000,000 keys would be walked by every full collection.
        self.exact_index: dict[int, None] = {}
        #: LSH key -> the packed sketch of the first indexed row that has it.
        self.band_index: dict[int, bytes] = {}
        self.indexed = 0
        #: Response key -> prompt key of the first row that gave that response.
        self.first_prompt: dict[int, int] = {}
        self.exact = Rows(max_rows)
        self.near = Rows(max_rows)
        self.copied = Rows(max_rows)
        self.clusters = 0
        self.full_at: int | None = None
        self._batch: list[Row] = []

    def begin(self, pass_no: int) -> bool:
        self._flush()
        return pass_no == 1

    def observe(self, row: Row) -> None:
        self._batch.append(row)
        if len(self._batch) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        batch = self._batch
        if not batch:
            return
        self._batch = []
        records = list(map(_RECORD, batch))
        prompts = list(map(_PROMPT, records))
        responses = list(map(_RESPONSE, records))
        ascii_prompts = all(map(str.isascii, prompts))
        ascii_responses = all(map(str.isascii, responses))
        sketches, packed, counts, keys = _minhash.pair_sketches(
            list(
                zip(
                    map(str.encode if ascii_prompts else word_source, prompts),
                    map(str.encode if ascii_responses else word_source, responses),
                    strict=True,
                )
            )
        )
        # The batch gives the keys of ASCII texts (:func:`bastion.data.base.text_key`'s
        # folding, from the bytes it lower-cases anyway); other texts came as their words.
        prompt_keys, response_keys = keys[0::2], keys[1::2]
        if not ascii_prompts:
            _non_ascii_keys(prompts, prompt_keys)
        if not ascii_responses:
            _non_ascii_keys(responses, response_keys)
        # One loop over the batch, in reading order. The indexes are large: each row
        # looks into each of them once (``setdefault``, and the size after it, say whether
        # the key was there), which is what most of the time goes to.
        exact_index, first_prompt, max_index = self.exact_index, self.first_prompt, self.max_index
        band_index, threshold = self.band_index, self.threshold
        setdefault, n_keys = band_index.setdefault, _minhash.KEYS
        indexed, max_near = self.indexed, self.max_near_index
        for record, sig, sig_bytes, response_words, prompt_key, response_key in zip(
            records, sketches, packed, counts, prompt_keys, response_keys, strict=True
        ):
            if response_words >= MIN_COPY_WORDS:
                if len(first_prompt) < max_index:
                    first = first_prompt.setdefault(response_key, prompt_key)
                else:
                    first = first_prompt.get(response_key, prompt_key)
                if first != prompt_key:
                    self.copied.add(record)
            key = hash((prompt_key, response_key))
            size = len(exact_index)
            if size < max_index:
                exact_index.setdefault(key)
                if len(exact_index) == size:
                    self.exact.add(record)
                    continue
            elif key in exact_index:
                self.exact.add(record)
                continue
            elif self.full_at is None:
                self.full_at = record.index
            # Near duplicates: the first indexed row that shares an LSH key and is similar
            # enough. While the index has room, the row's keys go in as they are looked up
            # (one lookup each), and come out again if the row is a near duplicate.
            room = indexed < max_near
            mine: set[int] | None = None
            for band_key in sig[:n_keys]:
                hit = setdefault(band_key, sig_bytes) if room else band_index.get(band_key)
                if hit is sig_bytes or hit is None:
                    continue
                mine = set(sig) if mine is None else mine
                if _minhash.similar_packed(sig, mine, hit, threshold):
                    # A near duplicate is not indexed: out again go the keys it added.
                    for added in sig[:n_keys]:
                        if band_index.get(added) is sig_bytes:
                            del band_index[added]
                    self.near.add(record)
                    break
            else:
                if room:
                    indexed += 1
                elif self.full_at is None:
                    self.full_at = record.index
        self.indexed = indexed

    def findings(self) -> list[DataFinding]:
        self._flush()
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
