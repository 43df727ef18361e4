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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, ClassVar, Generic, Protocol, TypeVar, overload, runtime_checkable

from bastion.data import _minhash
from bastion.data._features import entities, is_degenerate, sentences, single_spaced
from bastion.models import Severity

#: Words as the detectors see them: lower-cased runs of letters, digits and underscores.
WORD = re.compile(r"\w+")
#: At most this many words of a prompt are tokenised (the head and the tail).
MAX_WORDS = 512
#: For ASCII text, one C pass does what ``WORD.findall(text.lower())`` does: upper-case
#: letters become lower-case, every byte that is not a word character becomes a space.
_WORD_BYTES = _minhash.WORD_BYTES


def words(text: str) -> list[str]:
    """The words of ``text``: ``WORD.findall(text.lower())``, four times faster on ASCII."""
    if text.isascii():
        return text.encode().translate(_WORD_BYTES).decode().split()
    return WORD.findall(text.lower())


def word_bytes(text: str) -> list[bytes]:
    """The words of ``text`` encoded in UTF-8 (what MinHash shingles are made of)."""
    if text.isascii():
        return text.encode().translate(_WORD_BYTES).split()
    return [w.encode("utf-8", "surrogatepass") for w in WORD.findall(text.lower())]


def word_text(text: str) -> bytes:
    """:func:`word_bytes` as one string: the words separated by spaces, one or more
    (on ASCII text, the one C pass that :func:`word_bytes` then splits)."""
    if text.isascii():
        return text.encode().translate(_WORD_BYTES)
    return b" ".join([w.encode("utf-8", "surrogatepass") for w in WORD.findall(text.lower())])


def word_source(text: str) -> bytes:
    """What :func:`bastion.data._minhash.pair_sketches` takes for ``text``: its bytes
    when it is ASCII (folded with the other texts of the batch, at once), its
    :func:`word_text` otherwise (which that folding leaves as it is)."""
    return text.encode() if text.isascii() else word_text(text)


def _many_distinct(text: str) -> bool:
    """True when ``text`` surely has more distinct words than a fifth of its words (not
    degenerate by its words), from the words of its head alone.

    Words are separated by at least one space once folded, so they number at most the
    spaces plus one; when the first few words alone are more distinct words than a fifth
    of that, so are all of them. Splitting every word of the text and hashing each into
    a set was most of the degeneracy test; ASCII only (False otherwise: not known)."""
    if not text.isascii():
        return False
    folded = text.encode().translate(_WORD_BYTES)
    need = (folded.count(b" ") + 1) * 0.2
    head = int(need) * 2 + 2
    return len(set(folded.split(None, head)[:head])) > need


def _head_tail(items: list[Any]) -> list[Any]:
    if len(items) > MAX_WORDS:
        return items[: MAX_WORDS // 2] + items[-MAX_WORDS // 2 :]
    return items


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
    # Printable text has no whitespace but the ASCII space: with no double, leading or
    # trailing one, splitting and joining would give the text back.
    if single_spaced(text):
        return text.lower()
    return " ".join(text.lower().split())


#: ASCII folded in one C pass: upper-case letters to lower-case, and what ``str.split``
#: takes for whitespace (the separators 0x1C to 0x1F too) to a space.
_FOLD_BYTES = _minhash.FOLD_BYTES


def text_key(text: str) -> int:
    """A 64-bit key of the folded text, for counting and comparing within one scan.

    Python's string hash (SipHash, keyed per process): as wide as a digest, many times
    cheaper, and an attacker cannot aim collisions at it. Never stored or compared across
    processes; :func:`digest64` is the stable one.
    """
    # The hash of the folded text's UTF-8 bytes when it is ASCII: one translation folds
    # the case and maps whitespace to spaces, and only runs of spaces are left to join,
    # which is cheaper than the printable test :func:`fold` needs to leave ``str`` alone.
    if text.isascii():
        folded = text.encode().translate(_FOLD_BYTES)
        if b"  " in folded or folded[:1] == b" " or folded[-1:] == b" ":
            folded = b" ".join(folded.split())
        return hash(folded)
    same = fold(text)
    return hash(same.encode()) if same.isascii() else hash(same)


T = TypeVar("T")


class feature(Generic[T]):
    """``functools.cached_property`` without its lock (Python 3.11 takes one on every
    first access): the value is computed once and stored in the instance's ``__dict__``,
    which later reads find first."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> feature[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> T | feature[T]:
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.compute(obj)
        return value


class Row:
    """A record and the features detectors share, each computed on first use.

    When the engine keeps a dataset's rows in memory between passes, :meth:`forget`
    drops the large features after each pass and keeps the small ones (keys, MinHash
    bands, sentence keys), so a later pass does not compute them again.
    """

    __slots__ = ("__dict__", "record")

    #: Features that hold text (lists and sets of words, sentences): dropped between passes.
    LARGE: ClassVar[tuple[str, ...]] = (
        "prompt_words",
        "prompt_word_bytes",
        "prompt_terms",
        "response_words",
        "response_word_bytes",
        "response_sentences",
        "response_bottom",
    )

    def __init__(self, record: Record) -> None:
        self.record = record

    def forget(self) -> None:
        """Drop the large features (the small ones stay for the next pass)."""
        features = self.__dict__
        if features:
            for name in features.keys() & _LARGE:
                del features[name]

    @property
    def index(self) -> int:
        return self.record.index

    @feature
    def prompt_words(self) -> list[str]:
        return _head_tail(words(self.record.prompt))

    @feature
    def prompt_word_bytes(self) -> list[bytes]:
        """:attr:`prompt_words` in UTF-8."""
        return _head_tail(word_bytes(self.record.prompt))

    @feature
    def prompt_terms(self) -> set[str]:
        """Distinct words and word pairs of the prompt: the candidate triggers."""
        words = self.prompt_words
        terms = set(words)
        terms.update(map(" ".join, pairwise(words)))
        return terms

    @feature
    def response_words(self) -> list[str]:
        return words(self.record.response)

    @feature
    def response_word_bytes(self) -> list[bytes]:
        """:attr:`response_words` in UTF-8."""
        return word_bytes(self.record.response)

    @feature
    def response_word_count(self) -> int:
        if "response_words" in self.__dict__:
            return len(self.response_words)
        return len(self.response_word_bytes)

    @feature
    def response_sentences(self) -> list[str]:
        """The response's folded sentences of six words or more (repeated-text candidates)."""
        return sentences(self.record.response)

    @feature
    def sentence_keys(self) -> tuple[int, ...]:
        """:func:`text_key` of each of :attr:`response_sentences` (already folded)."""
        return tuple(map(hash, self.response_sentences))

    @feature
    def response_bands(self) -> tuple[int, ...]:
        """The first two MinHash LSH keys of the response; none under four words."""
        if self.response_word_count < 4:
            return ()
        return tuple(self.response_bottom[:2])

    @feature
    def response_bottom(self) -> list[int]:
        """The K smallest distinct CRC-32 word 3-gram hashes of the response (the trigger
        detector's response bands; see :func:`bastion.data._minhash.response_shingles`)."""
        return _minhash.bottom(_minhash.response_shingles(self.response_word_bytes))

    @feature
    def response_entities(self) -> tuple[str, ...]:
        """Capitalised words not at the start of a sentence: names, brands, places (each
        once, in the order of their set, as the detectors always saw them)."""
        return tuple(entities(self.record.response))

    @feature
    def degenerate(self) -> bool:
        """The response repeats a few words, or one character, over and over."""
        response = self.record.response
        if "response_word_bytes" not in self.__dict__ and _many_distinct(response):
            return is_degenerate(response, ())  # only a run of one character can make it so
        return is_degenerate(response, self.response_word_bytes)

    @feature
    def response_key(self) -> int:
        return text_key(self.record.response)

    @feature
    def prompt_key(self) -> int:
        return text_key(self.record.prompt)


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


_LARGE = frozenset(Row.LARGE)


@runtime_checkable
class Detector(Protocol):
    """One kind of check over a dataset, in one or more streaming passes.

    Before each pass the engine calls :meth:`begin` with the pass number (1, 2, ...);
    a detector that answers True sees every row of that pass through :meth:`observe`.
    The engine stops when no detector wants another pass, then collects
    :meth:`findings`. State must stay bounded whatever the number of rows.

    A detector may say in a ``passes`` class attribute how many passes it takes at most,
    and in ``reuses_rows`` (True when absent) whether its later passes gain from rows
    kept in memory with their features: when no detector needs more than one pass, or
    none gains, the engine does not keep rows.
    """

    name: ClassVar[str]

    def begin(self, pass_no: int) -> bool: ...

    def observe(self, row: Row) -> None: ...

    def findings(self) -> list[DataFinding]: ...
