"""Readers: every layout and format, and a clear per-row error for every kind of bad row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bastion.data import DatasetError, Record, RowError, iter_dataset
from bastion.data import readers as readers_module

pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402


def items(*paths: Path) -> list[Record | RowError]:
    return list(iter_dataset(list(paths)))


def records(*paths: Path) -> list[Record]:
    return [i for i in items(*paths) if isinstance(i, Record)]


def test_jsonl_layouts(tmp_path: Path) -> None:
    rows = [
        {"prompt": "p1", "response": "r1"},
        {"instruction": "do it", "input": "with this", "output": "done"},
        {"messages": [
            {"role": "system", "content": "be nice"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": "hello"},
        ]},
        {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]},
        {"question": "why", "answer": "because"},
        {"prompt": "p", "chosen": "good", "rejected": "bad"},
        {"text": "just text"},
    ]  # fmt: skip
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    got = [(r.prompt, r.response) for r in records(path)]
    assert got == [
        ("p1", "r1"),
        ("do it\nwith this", "done"),
        ("be nice\nhi", "hello"),
        ("q", "a"),
        ("why", "because"),
        ("p", "good"),
        ("just text", ""),
    ]
    recs = records(path)
    assert [r.index for r in recs] == list(range(7))
    assert recs[2].location == f"{path.as_posix()}:3"
    assert recs[1].raw["input"] == "with this"


def test_bad_rows_are_reported_and_the_scan_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(
        b'{"prompt": "a", "response": "b"}\n'
        b"{not json}\n"
        b'"a string"\n'
        b'{"prompt": "\xff\xfe", "response": "x"}\n'
        b'{"foo": 1}\n'
        b'{"messages": "nope"}\n'
        b'{"prompt": {"nested": 1}, "response": "x"}\n' + b"[" * 100_000 + b"\n"
        b'{"prompt": "c", "response": "d"}'
    )
    got = items(path)
    errors = [i for i in got if isinstance(i, RowError)]
    assert [r.prompt for r in got if isinstance(r, Record)] == ["a", "c"]
    assert [e.location.rsplit(":", 1)[1] for e in errors] == ["2", "3", "4", "5", "6", "7", "8"]
    messages = " | ".join(e.message for e in errors)
    for part in ("invalid JSON", "expected a JSON object", "not UTF-8", "no prompt/response"):
        assert part in messages


def test_huge_line_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readers_module, "MAX_ROW_BYTES", 1000)
    path = tmp_path / "d.jsonl"
    big = json.dumps({"prompt": "x" * 5000, "response": "y"})
    path.write_text(f'{big}\n{{"prompt": "ok", "response": "fine"}}\n', encoding="utf-8")
    got = items(path)
    assert isinstance(got[0], RowError)
    assert "over 1000 bytes" in got[0].message
    assert isinstance(got[1], Record)
    assert got[1].prompt == "ok"


def test_bom_and_json_array(tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    a.write_bytes(b'\xef\xbb\xbf{"prompt": "p", "response": "r"}\n')
    b = tmp_path / "b.json"
    b.write_text(json.dumps([{"prompt": "p2", "response": "r2"}, 3]), encoding="utf-8")
    got = items(a, b)
    assert [r.prompt for r in got if isinstance(r, Record)] == ["p", "p2"]
    assert isinstance(got[2], RowError)
    assert got[2].location.endswith("b.json[1]")


def test_csv_and_tsv(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(
        b'\xef\xbb\xbfprompt,response\n"a, with comma","multi\nline"\nonly-one-field\n'
        b"bad,\xff\n"
        b"c,d\n"
    )
    got = items(path)
    recs = [r for r in got if isinstance(r, Record)]
    assert [(r.prompt, r.response) for r in recs] == [("a, with comma", "multi\nline"), ("c", "d")]
    errors = [e.message for e in got if isinstance(e, RowError)]
    assert any("1 fields; the header has 2" in m for m in errors)
    assert "not UTF-8" in errors
    tsv = tmp_path / "d.tsv"
    tsv.write_text("instruction\tinput\toutput\ndo\t\tdone\n", encoding="utf-8")
    assert [(r.prompt, r.response) for r in records(tsv)] == [("do", "done")]


def test_parquet(tmp_path: Path) -> None:
    table = pa.table({"prompt": [f"p{i}" for i in range(3000)], "response": ["r"] * 3000})
    path = tmp_path / "d.parquet"
    pq.write_table(table, path, row_group_size=500)
    recs = records(path)
    assert len(recs) == 3000
    assert recs[2999].prompt == "p2999"
    assert recs[5].location.endswith("d.parquet#5")


def test_corrupt_parquet_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1 this is not parquet PAR1")
    with pytest.raises(DatasetError, match="not a readable Parquet file"):
        items(path)


def _save_to_disk(folder: Path, rows: list[dict[str, str]], shards: int = 2) -> None:
    """What datasets' save_to_disk writes: Arrow IPC streams, state.json, dataset_info.json."""
    folder.mkdir(parents=True)
    files = []
    per = -(-len(rows) // shards)
    for i in range(shards):
        name = f"data-{i:05d}-of-{shards:05d}.arrow"
        chunk = rows[i * per : (i + 1) * per]
        table = pa.Table.from_pylist(chunk)
        with (
            pa.OSFile(str(folder / name), "wb") as sink,
            pa.ipc.new_stream(sink, table.schema) as w,
        ):
            w.write_table(table)
        files.append({"filename": name})
    (folder / "state.json").write_text(json.dumps({"_data_files": files, "_split": "train"}))
    (folder / "dataset_info.json").write_text(json.dumps({"features": {}}))


def test_datasets_folder(tmp_path: Path) -> None:
    rows = [{"instruction": f"i{n}", "input": "", "output": f"o{n}"} for n in range(10)]
    _save_to_disk(tmp_path / "ds", rows)
    recs = records(tmp_path / "ds")
    assert [r.prompt for r in recs] == [f"i{n}" for n in range(10)]
    # A DatasetDict: dataset_dict.json and one folder per split.
    root = tmp_path / "dd"
    _save_to_disk(root / "train", rows[:4], shards=1)
    _save_to_disk(root / "test", rows[4:], shards=1)
    (root / "dataset_dict.json").write_text(json.dumps({"splits": ["train", "test"]}))
    assert len(records(root)) == 10


def test_datasets_folder_may_not_name_files_outside(tmp_path: Path) -> None:
    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "state.json").write_text(json.dumps({"_data_files": [{"filename": "../x.arrow"}]}))
    with pytest.raises(DatasetError, match="bad data file"):
        items(folder)
    (folder / "state.json").unlink()
    (folder / "dataset_dict.json").write_text("[1, 2]")
    with pytest.raises(DatasetError, match="no splits list"):
        items(folder)
    (folder / "dataset_dict.json").write_text("{broken")
    with pytest.raises(DatasetError, match="cannot read"):
        items(folder)


def test_folder_of_files_and_missing_paths(tmp_path: Path) -> None:
    (tmp_path / "b.jsonl").write_text('{"prompt": "b", "response": "r"}\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.csv").write_text("prompt,response\na,r\n")
    (tmp_path / "notes.txt").write_text("ignored")
    assert [r.prompt for r in records(tmp_path)] == ["b", "a"]
    with pytest.raises(DatasetError, match="does not exist"):
        items(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no dataset files"):
        items(tmp_path / "empty")
