"""safetensors: files written by the real library are clean; every lie in a header is caught."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save

from bastion.models import Severity
from bastion.scan import Status
from bastion.scan.safetensors import SafetensorsScanner
from tests.scan.formats._util import assert_clean, assert_flagged, rules, scan_bytes


def build(header: dict[str, object], data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def f32(offset: int, count: int) -> dict[str, object]:
    return {"dtype": "F32", "shape": [count], "data_offsets": [offset, offset + 4 * count]}


def test_real_file_is_clean(tmp_path: Path) -> None:
    data = save(
        {"w": np.ones((3, 4), np.float32), "b": np.zeros(5, np.int64), "m": np.eye(2, dtype=bool)},
        metadata={"format": "pt"},
    )
    result = scan_bytes(tmp_path, data, "model.safetensors")
    assert_clean(result)
    assert result.formats == ("safetensors",)


def test_empty_tensor_and_metadata_only_are_clean(tmp_path: Path) -> None:
    data = build(
        {
            "__metadata__": {"a": "b"},
            "e": {"dtype": "F16", "shape": [0, 3], "data_offsets": [0, 0]},
        },
        b"",
    )
    assert_clean(scan_bytes(tmp_path, data))


def test_metadata_values_must_be_strings(tmp_path: Path) -> None:
    data = build({"__metadata__": {"cfg": {"nested": 1}}, "w": f32(0, 1)}, b"\0" * 4)
    assert_flagged(scan_bytes(tmp_path, data), "safetensors.metadata-not-string")


def test_shape_and_range_disagree(tmp_path: Path) -> None:
    entry = {"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}
    assert_flagged(
        scan_bytes(tmp_path, build({"w": entry}, b"\0" * 12)), "safetensors.size-mismatch"
    )


@pytest.mark.parametrize(
    "entry",
    [
        {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]},
        {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]},
        {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]},
        {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "code": "x"},
        "not an object",
    ],
)
def test_malformed_entries(tmp_path: Path, entry: object) -> None:
    assert_flagged(
        scan_bytes(tmp_path, build({"w": entry}, b"\0" * 4)), "safetensors.invalid-tensor"
    )


def test_range_past_the_end(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, build({"w": f32(0, 4)}, b"\0" * 8))
    assert_flagged(result, "safetensors.out-of-bounds")


def test_overlapping_tensors(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, build({"a": f32(0, 2), "b": f32(4, 2)}, b"\0" * 12))
    assert_flagged(result, "safetensors.overlap")


def test_pickle_smuggled_in_a_gap_is_found(tmp_path: Path) -> None:
    payload = b"cos\nsystem\n(S'id'\ntR."
    gap = len(payload)
    header = {"a": f32(0, 1), "b": f32(4 + gap, 1)}
    result = scan_bytes(tmp_path, build(header, b"\0" * 4 + payload + b"\0" * 4))
    assert_flagged(result, "safetensors.gap", Severity.HIGH)
    assert any(f.rule == "pickle.dangerous-global" for f in result.findings), result.findings


def test_trailing_pickle_is_found(tmp_path: Path) -> None:
    payload = pickle.dumps(print, protocol=4)
    result = scan_bytes(tmp_path, build({"a": f32(0, 1)}, b"\0" * 4 + payload))
    assert_flagged(result, "safetensors.trailing-data", Severity.HIGH)
    assert any(f.rule.startswith("pickle.") for f in result.findings)


def test_duplicate_keys(tmp_path: Path) -> None:
    entry = json.dumps(f32(0, 1)).encode()
    raw = b'{"w": ' + entry + b', "w": ' + entry + b"}"
    result = scan_bytes(tmp_path, struct.pack("<Q", len(raw)) + raw + b"\0" * 4)
    assert_flagged(result, "safetensors.duplicate-key")


@pytest.mark.parametrize(
    "data",
    [
        struct.pack("<Q", 50) + b"{}",  # header longer than the file
        struct.pack("<Q", 5) + b"{,,,}",  # not JSON
        struct.pack("<Q", 4) + b"{\xff}x",  # not UTF-8
    ],
)
def test_unreadable_headers_are_errors_never_clean(tmp_path: Path, data: bytes) -> None:
    assert scan_bytes(tmp_path, data).status is Status.ERROR


def test_an_empty_header_is_clean(tmp_path: Path) -> None:
    assert_clean(scan_bytes(tmp_path, struct.pack("<Q", 2) + b"{}"))


def test_header_length_over_the_limit_is_not_claimed_and_searched(tmp_path: Path) -> None:
    assert not SafetensorsScanner().sniff(struct.pack("<Q", 200_000_000) + b"{}")
    assert "safetensors" not in scan_bytes(tmp_path, struct.pack("<Q", 200_000_000) + b"{}").formats


def test_inside_a_zip_stream(tmp_path: Path) -> None:
    import zipfile

    data = build({"a": f32(0, 1)}, b"\0" * 4 + pickle.dumps(print, protocol=4))
    with zipfile.ZipFile(tmp_path / "m.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("model.safetensors", data)
    from tests.scan.formats._util import scan

    result = scan(tmp_path / "m.zip")
    assert "safetensors.trailing-data" in rules(result)


headers = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 100) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.dictionaries(st.sampled_from(["a", "b", "__metadata__"]), headers),
    data=st.binary(max_size=64),
)
def test_random_headers_never_crash(tmp_path: Path, header: dict[str, object], data: bytes) -> None:
    result = scan_bytes(tmp_path, build(header, data))
    assert result.status in (Status.CLEAN, Status.FINDINGS, Status.ERROR)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(cut=st.integers(0, 200), flip=st.integers(0, 200), byte=st.integers(0, 255))
def test_mutated_real_files_never_crash(tmp_path: Path, cut: int, flip: int, byte: int) -> None:
    data = bytearray(save({"w": np.ones(3, np.float32), "v": np.zeros(2, np.float16)}))
    if flip < len(data):
        data[flip] = byte
    result = scan_bytes(tmp_path, bytes(data[: len(data) - cut % len(data)]))
    assert result.status in (Status.CLEAN, Status.FINDINGS, Status.ERROR, Status.SKIPPED)
