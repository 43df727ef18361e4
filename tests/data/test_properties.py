"""Property tests: readers never crash or hang on any bytes, and round-trip any text."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.data import DatasetError, Record, RowError, iter_dataset

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


def _read(data: bytes, suffix: str) -> list[Record | RowError]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"d{suffix}"
        path.write_bytes(data)
        try:
            return list(iter_dataset([path]))
        except DatasetError:
            return []


@SETTINGS
@given(st.lists(st.binary(max_size=120), max_size=20))
def test_jsonl_any_bytes_one_item_per_nonblank_line(lines: list[bytes]) -> None:
    lines = [line.replace(b"\n", b" ") for line in lines]
    data = b"\n".join(lines)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"["):
        data = b" " + data.replace(b"[", b"(")
    got = _read(data, ".jsonl")
    # a byte-order mark at the start of the file is encoding, not content
    body = data.removeprefix(b"\xef\xbb\xbf")
    nonblank = sum(1 for line in body.split(b"\n") if line.strip())
    assert len(got) == nonblank
    for item in got:
        assert isinstance(item, (Record, RowError))
        if isinstance(item, RowError):
            assert item.message


@SETTINGS
@given(st.binary(max_size=600))
def test_csv_any_bytes_never_crashes(data: bytes) -> None:
    for item in _read(data, ".csv"):
        assert isinstance(item, (Record, RowError))


@SETTINGS
@given(st.lists(st.tuples(text, text), min_size=1, max_size=15))
def test_jsonl_round_trip(pairs: list[tuple[str, str]]) -> None:
    data = "\n".join(json.dumps({"prompt": p, "response": r}) for p, r in pairs).encode()
    got = _read(data, ".jsonl")
    assert [(r.prompt, r.response) for r in got if isinstance(r, Record)] == pairs


@SETTINGS
@given(st.lists(st.tuples(text, text), min_size=1, max_size=15))
def test_csv_round_trip(pairs: list[tuple[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["prompt", "response"])
    writer.writerows(pairs)
    got = _read(buf.getvalue().encode("utf-8"), ".csv")
    # csv normalises bare carriage returns inside unquoted fields; compare without them.
    want = [(p.replace("\r", ""), r.replace("\r", "")) for p, r in pairs]
    have = [
        (r.prompt.replace("\r", ""), r.response.replace("\r", ""))
        for r in got
        if isinstance(r, Record)
    ]
    assert have == want
