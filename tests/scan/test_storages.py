"""Tensor storages in a PyTorch zip are data: random bytes that start like a pickle opcode
must never turn a benign checkpoint into an error or a finding."""

from __future__ import annotations

import io
import pickle
import random
import zipfile
from pathlib import Path

import pytest

from bastion.scan import Status, scan_path

DATA_PKL = pickle.dumps({"w": 1}, protocol=2)


def checkpoint(tmp_path: Path, storages: list[bytes], name: str = "ckpt.pt") -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", DATA_PKL)
        for i, blob in enumerate(storages):
            zf.writestr(f"archive/data/{i}", blob)
        zf.writestr("archive/version", "3\n")
    path = tmp_path / name
    path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize(
    "head",
    [
        b"X" + (4_055_596).to_bytes(4, "little"),  # BINUNICODE longer than the storage
        b"\x8e" + (1 << 40).to_bytes(8, "little"),  # BINBYTES8
        b"\x80\x02K\x01",  # PROTO, then data that stops being a pickle
        b"V\x00",  # UNICODE with bytes raw-unicode-escape cannot decode
    ],
)
def test_storage_that_starts_like_an_opcode_is_data(tmp_path: Path, head: bytes) -> None:
    blob = head + random.Random(7).randbytes(100_000)
    result = scan_path(checkpoint(tmp_path, [blob]), workers=1).files[0]
    assert result.status is Status.CLEAN, (result.findings, result.errors)


def test_random_float_storages_are_clean(tmp_path: Path) -> None:
    rng = random.Random(2026)
    storages = [rng.randbytes(rng.choice([8, 12, 32, 48, 400, 5000])) for _ in range(600)]
    result = scan_path(checkpoint(tmp_path, storages), workers=1).files[0]
    assert result.status is Status.CLEAN, (result.findings[:3], result.errors[:3])


def test_a_real_pickle_under_a_storage_name_is_still_scanned(tmp_path: Path) -> None:
    evil = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R."
    result = scan_path(checkpoint(tmp_path, [evil]), workers=1).files[0]
    assert result.status is Status.FINDINGS
    assert result.findings[0].location.members == ("archive/data/0",)
