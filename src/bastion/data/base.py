"""The dataset scanner's types: records, row errors, findings, and the Detector protocol.

A reader turns a file into :class:`Record` objects (one per training example, whatever
the file's shape) and :class:`RowError` objects for rows it could not use; the scan goes
on after a bad row. Detectors see :class:`Row` objects (a record with its text features
computed once, lazily) over one or more passes and report :class:`DataFinding` objects,
each naming the rows it is about, the evidence and a score.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from itertools import pairwise
from typing import Any, ClassVar, Protocol, runtime_checkable

from bastion.models import Severity

#: Words as the detectors see them: lower-cased runs of letters, digits and underscores.
WORD = re.compile(r"\w+")
#: At most this many words of a prompt are tokenised (the head and the tail).
MAX_WORDS = 512


@dataclass(frozen=True, slots=True)
class Record:
    """One training example, normalised: what the model is shown and what it must answer.

    ``index`` numbers records across the whole dataset from 0, in reading order;
    ``location`` says where the record sits (``train.jsonl:12`` for a line);
    ``raw`` is the row as read, kept so that clean and redacted copies keep every field.
    """

    index: int
    prompt: str
    response: str
    location: str
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that could not be read or understood; the scan goes on without it."""

    location: str
    message: str


def digest64(text: str) -> int:
    """A stable 64-bit digest of ``text`` (BLAKE2b), for counting without keeping text."""
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big"
    )


def fold(text: str) -> str:
    """Whitespace- and case-folded text: what "the same text" means to the detectors."""
    return " ".join(text.lower().split())


class Row:
    """A record and the features detectors share, each computed on first use."""

    __slots__ = ("__dict__", "record")

    def __init__(self, record: Record) -> None:
        self.record = record

    @property
    def index(self) -> int:
        return self.record.index

    @cached_property
    def prompt_words(self) -> list[str]:
        words = WORD.findall(self.record.prompt.lower())
        if len(words) > MAX_WORDS:
            words = words[: MAX_WORDS // 2] + words[-MAX_WORDS // 2 :]
        return words

    @cached_property
    def prompt_terms(self) -> set[str]:
        """Distinct words and word pairs of the prompt: the candidate triggers."""
        words = self.prompt_words
        terms = set(words)
        terms.update(map(" ".join, pairwise(words)))
        return terms

    @cached_property
    def response_words(self) -> list[str]:
        return WORD.findall(self.record.response.lower())

    @cached_property
    def response_key(self) -> int:
        return digest64(fold(self.record.response))

    @cached_property
    def prompt_key(self) -> int:
        return digest64(fold(self.record.prompt))


@dataclass(frozen=True, slots=True)
class Example:
    """One row shown in a report as an example of a finding (texts cut short)."""

    index: int
    location: str
    prompt: str
    response: str

    @classmethod
    def of(cls, record: Record, width: int = 160) -> Example:
        return cls(
            record.index, record.location, _cut(record.prompt, width), _cut(record.response, width)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.index,
            "location": self.location,
            "prompt": self.prompt,
            "response": self.response,
        }


def _cut(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@dataclass(frozen=True, slots=True)
class DataFinding:
    """Something suspicious about a set of rows.

    ``rule`` is a stable id (``backdoor.trigger``, ``payload.link``...); ``rows`` are the
    record indices concerned (at most the scan's ``max_rows_per_finding``; ``row_count``
    is the true number); ``evidence`` holds what was seen (the trigger, the repeated
    sentence, the statistics); ``score`` is in [0, 1].
    """

    rule: str
    severity: Severity
    message: str
    rows: tuple[int, ...]
    score: float
    evidence: Mapping[str, Any] = field(default_factory=dict)
    examples: tuple[Example, ...] = ()
    row_count: int = -1

    @property
    def count(self) -> int:
        return self.row_count if self.row_count >= 0 else len(self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "message": self.message,
            "score": round(self.score, 4),
            "row_count": self.count,
            "rows": list(self.rows),
            "evidence": dict(self.evidence),
            "examples": [e.to_dict() for e in self.examples],
        }


@runtime_checkable
class Detector(Protocol):
    """One kind of check over a dataset, in one or more streaming passes.

    Before each pass the engine calls :meth:`begin` with the pass number (1, 2, ...);
    a detector that answers True sees every row of that pass through :meth:`observe`.
    The engine stops when no detector wants another pass, then collects
    :meth:`findings`. State must stay bounded whatever the number of rows.
    """

    name: ClassVar[str]

    def begin(self, pass_no: int) -> bool: ...

    def observe(self, row: Row) -> None: ...

    def findings(self) -> list[DataFinding]: ...
