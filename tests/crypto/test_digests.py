"""Streaming, parallel digests agree with one-shot hashing and notice files that change."""

from __future__ import annotations

import hashlib
import itertools
import os
from pathlib import Path

import blake3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.crypto import (
    FileChangedError,
    Range,
    digest_range,
    digest_ranges,
    digests,
    shard_bounds,
)


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    out = []
    for i, size in enumerate([0, 1, 4095, 300_000, 3 * 1024 * 1024 + 7]):
        p = tmp_path / f"f{i}"
        p.write_bytes(os.urandom(size))
        out.append(p)
    return out


@pytest.mark.parametrize("workers", [1, 3])
def test_sha256_and_blake3_match_one_shot_hashing(files: list[Path], workers: int) -> None:
    items = [Range(str(p)) for p in files]
    got_sha = digest_ranges(items, "sha256", workers=workers)
    got_b3 = digest_ranges(items, "blake3", workers=workers)
    for path, sha, b3 in zip(files, got_sha, got_b3, strict=True):
        data = path.read_bytes()
        assert sha == hashlib.sha256(data).digest()
        assert b3 == blake3.blake3(data).digest()


def test_small_buffer_and_ranges(files: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digests, "BUFFER_SIZE", 1000)
    path = files[-1]
    data = path.read_bytes()
    got = digest_range(Range(str(path), 10, 250_011), "sha256")
    assert got == hashlib.sha256(data[10:250_011]).digest()


def test_blake3_threads_give_the_same_digest(files: list[Path]) -> None:
    data = files[-1].read_bytes()
    assert digest_range(Range(str(files[-1])), "blake3", threads=4) == blake3.blake3(data).digest()


def test_a_file_that_changed_size_since_listing_is_an_error(files: list[Path]) -> None:
    path = files[3]
    listed = path.stat().st_size
    with path.open("ab") as out:
        out.write(b"appended after listing")
    with pytest.raises(FileChangedError, match="changed size"):
        digest_range(Range(str(path), 0, listed, listed), "sha256")


def test_a_range_past_the_end_is_an_error(files: list[Path]) -> None:
    with pytest.raises(FileChangedError, match="outside the file"):
        digest_range(Range(str(files[1]), 0, 10), "sha256")


def test_unknown_algorithm_is_refused(files: list[Path]) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        digest_range(Range(str(files[1])), "md5")  # type: ignore[arg-type]


@given(size=st.integers(0, 10_000), shard=st.integers(1, 3000))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_shards_cover_the_file_exactly_once(size: int, shard: int) -> None:
    bounds = list(shard_bounds(size, shard))
    assert [b - a for a, b in bounds] == [min(shard, size - a) for a, _ in bounds]
    assert sum(b - a for a, b in bounds) == size
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(bounds))
    if size:
        assert bounds[0][0] == 0
        assert bounds[-1][1] == size
    else:
        assert bounds == []


@pytest.mark.parametrize("algorithm", ["sha256", "blake3"])
def test_memory_stays_flat_on_a_large_file(tmp_path: Path, algorithm: str) -> None:
    import subprocess
    import sys

    big = tmp_path / "big.bin"
    with big.open("wb") as out:  # sparse: 256 MB on disk costs nothing
        out.truncate(256 * 1024 * 1024)
    code = (
        "import resource, sys\n"
        "from bastion.crypto import Range, digest_ranges\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"digest_ranges([Range(sys.argv[1])] * 2, {algorithm!r}, workers=2)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(big)], check=True, capture_output=True, text=True
    )
    grown_kib = int(proc.stdout)
    # Two threads x one 8 MiB buffer, plus BLAKE3's own threads: far below the file's size.
    assert grown_kib < 64 * 1024, grown_kib
