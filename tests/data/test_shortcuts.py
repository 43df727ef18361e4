"""The scanner's shortcuts give what the plain computations they replace give."""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.data import _minhash, engine, scan_dataset
from bastion.data._features import MIN_SENTENCE_WORDS, is_degenerate, sentences, single_spaced
from bastion.data._normalise import normalise
from bastion.data.base import Record, Row, fold, text_key, word_bytes, word_source
from tests.data.conftest import WriteRows

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Few distinct characters, so that repeated words, runs and sentence marks are common.
texty = st.text(
    st.sampled_from(["a", "b", "B", "x", " ", " ", ".", "!", "?", "\n", "\t", "\x1f", "é", "\x00"]),
    max_size=120,
)
_RUN = re.compile(r"(.)\1{29,}", re.S)


def _degenerate(response: str, words: list[bytes]) -> bool:
    if len(words) >= 12 and len(set(words)) <= len(words) * 0.2:
        return True
    tokens = response.split()
    if not tokens or max(map(len, tokens)) < 30:
        return False
    runs = sum(len(m.group()) for t in tokens if len(t) >= 30 for m in _RUN.finditer(t))
    return runs * 2 >= len(response.strip()) > 0


def _sentences(text: str) -> list[str]:
    out = []
    marked = text.replace(". ", ".\n").replace("! ", "!\n").replace("? ", "?\n")
    for part in marked.splitlines():
        words = part.lower().split()
        if len(words) >= MIN_SENTENCE_WORDS:
            out.append(" ".join(words))
    return out


@SETTINGS
@given(texty, st.integers(0, 40), st.sampled_from(["", "la ", "x", "!"]))
def test_degenerate_as_computed_in_full(text: str, times: int, unit: str) -> None:
    response = text + unit * times
    expected = _degenerate(response, word_bytes(response))
    assert is_degenerate(response, word_bytes(response)) is expected
    assert Row(Record(0, "", response, "")).degenerate is expected


@SETTINGS
@given(texty)
def test_single_spaced_and_sentences(text: str) -> None:
    plain = " ".join(text.split()) == text
    assert single_spaced(text) is (plain and (text.isascii() or text.isprintable()))
    assert fold(text) == " ".join(text.lower().split())
    assert sentences(text) == _sentences(text)
    folded = " ".join(text.lower().split())
    assert text_key(text) == text_key(folded) == text_key(folded.upper().lower())
    if folded.isascii():
        assert text_key(text) == hash(folded.encode())


sketches = st.lists(st.integers(0, 40), max_size=24).map(lambda xs: sorted(set(xs))[: _minhash.K])


@SETTINGS
@given(sketches, sketches, st.sampled_from([0.0, 0.3, 0.5, 0.7, 11 / 16, 0.9, 1.0]))
def test_similar_is_the_similarity_against_the_threshold(
    a: list[int], b: list[int], threshold: float
) -> None:
    assert _minhash.similar(a, b, threshold) is (_minhash.similarity(a, b) >= threshold)
    packed = _minhash.pack(b)
    assert _minhash.similar_packed(a, set(a), packed, threshold) is _minhash.similar(
        a, b, threshold
    )


#: Full sketches (K hashes) over few values, so that they share most of them or few.
full_sketches = st.sets(st.integers(0, 30), min_size=_minhash.K, max_size=_minhash.K).map(sorted)


@SETTINGS
@given(full_sketches, full_sketches, st.sampled_from([0.3, 0.5, 0.7, 11 / 16, 0.75, 0.9, 1.0]))
def test_similar_from_the_head_of_a_packed_sketch(
    a: list[int], b: list[int], threshold: float
) -> None:
    expected = _minhash.similarity(a, b) >= threshold
    assert _minhash.similar_packed(a, set(a), _minhash.pack(b), threshold) is expected


#: Texts as :func:`word_source` gives them: words of a few letters (repeats are common),
#: long ones (several 8-byte chunks), capitals, punctuation and control characters, runs
#: of spaces, and non-ASCII words (then the whole text comes as its words).
words_texts = st.lists(
    st.sampled_from(
        [
            "a",
            "b",
            "ab",
            "x" * 9,
            "y" * 17,
            "Z,",
            "q.\x00",
            "\t",
            "é",
            "слово",
            "a_1",
            "  ",
            "\x1f\n",
            "\x7f~",
        ]
    ),
    max_size=300,
).map(lambda ws: word_source(" ".join(ws)))


@SETTINGS
@given(st.lists(st.tuples(words_texts, words_texts), max_size=12))
def test_batch_sketches_are_the_row_by_row_ones(pairs: list[tuple[bytes, bytes]]) -> None:
    words = [(word_bytes(p.decode()), word_bytes(r.decode())) for p, r in pairs]
    sketches = [_minhash.pair_sketch(p, r) for p, r in words]
    keys = [_minhash.fold_key(text) for pair in pairs for text in pair]
    expected = (sketches, [_minhash.pack(s) for s in sketches], [len(r) for _, r in words], keys)
    assert _minhash.pair_sketches(pairs) == expected
    for pair in pairs:
        for text in pair:
            if text.isascii():  # an ASCII text comes as it is: its key is its text key
                assert _minhash.fold_key(text) == text_key(text.decode())
    if _minhash._numpy() is not None:
        for at in range(0, len(pairs), 5):
            assert _minhash._np_pair_sketches(pairs[at : at + 5]) == _minhash._pure_pair_sketches(
                pairs[at : at + 5]
            )


def test_batches_of_many_rows_and_long_words() -> None:
    pairs = [
        (
            word_source(f"Question {i} about {'kites, ' * (i % 7)}"),
            word_source(f"w{i} " * (i % 300)),
        )
        for i in range(700)
    ]
    pairs.append((b"", b""))
    pairs.append((b"q" * 70, b"r" * 33 + b" " + b"s" * 8))
    assert _minhash.pair_sketches(pairs) == _minhash._pure_pair_sketches(pairs)


def test_sketches_do_not_depend_on_the_hash_seed() -> None:
    # (The exact-duplicate keys do: they are Python's string hash, for one scan only.)
    code = (
        "from bastion.data import _minhash;"
        "print(_minhash.pair_sketches([(b'a question', b'an answer of several words here'),"
        " (b'x', b'')])[:3])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "random")
    }
    assert len(outputs) == 1


class _FreezeSpy:
    """Sees every row twice and notes how many objects the collector left alone."""

    name = "spy"
    passes = 2

    def __init__(self) -> None:
        self.frozen: list[int] = []

    def begin(self, pass_no: int) -> bool:
        return pass_no <= 2

    def observe(self, row: Row) -> None:
        self.frozen.append(gc.get_freeze_count())

    def findings(self) -> list[Any]:
        return []


def test_a_scan_that_keeps_rows_leaves_the_collector_as_it_was(
    clean_rows: list[dict[str, str]], write_jsonl: WriteRows, monkeypatch: pytest.MonkeyPatch
) -> None:
    path: Path = write_jsonl(clean_rows[:300])
    monkeypatch.setattr(engine, "FREEZE_EVERY", 64)
    before = gc.get_freeze_count()
    spy = _FreezeSpy()
    scan_dataset(path, detectors=[spy])
    assert max(spy.frozen) > before  # the kept rows were out of the collector's reach...
    assert gc.get_freeze_count() == before  # ...until the scan ended
    kept = scan_dataset(path)
    assert kept.to_dict()["findings"] == scan_dataset(path, cache_bytes=0).to_dict()["findings"]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"prompt": "p", "response": "r"}, ("p", "r")),
        ({"prompt": "p", "response": "r", "id": 3}, ("p", "r")),
        ({"prompt": "p", "response": None}, ("p", "")),
        ({"prompt": 7, "response": "r"}, ("7", "r")),
        ({"prompt": "p", "response": "r", "instruction": "i"}, ("p", "r")),
        ({"prompt": "p", "response": "r", "instruction": "i", "output": "o"}, ("i", "o")),
        (
            {"prompt": "p", "response": "r", "messages": [{"role": "user", "content": "m"}]},
            ("m", ""),
        ),
        ({"prompt": "p", "completion": "c"}, ("p", "c")),
    ],
)
def test_prompt_and_response_first_when_no_earlier_layout_applies(
    row: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert normalise(row) == expected
