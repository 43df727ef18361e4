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
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss - base)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(big)], check=True, capture_output=True, text=True
    )
    grown_kib, children_kib = map(int, proc.stdout.split())
    # Two threads x one 1 MiB buffer, plus BLAKE3's own threads: far below the file's size.
    assert grown_kib < 64 * 1024, grown_kib
    # A fresh interpreter hashes 512 MB in forked workers that map 16 MiB at a time.
    assert children_kib < 48 * 1024, children_kib


def _in_fresh_interpreter(code: str, *args: str) -> str:
    """Run ``code`` in a new, single-threaded interpreter (where hashing may fork); its
    standard output."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


_FORKED = (
    "import sys\n"
    "from bastion.crypto import Range, digest_ranges, digests\n"
    "digests.FORK_MIN = 0\n"
    "assert digests._can_fork()\n"
    "calls = []\n"
    "forked = digests._digest_forked\n"
    "digests._digest_forked = lambda *a: calls.append(1) or forked(*a)\n"
)


def test_forked_workers_give_the_digests_of_the_threaded_reader(files: list[Path]) -> None:
    # Ranges that start and end off the page boundaries, whole files, an empty file.
    ranges = [(str(p), 0, None) for p in files] + [(str(files[-1]), 4097, 3_000_001)]
    code = _FORKED + (
        "import json\n"
        "items = [Range(p, a, b) for p, a, b in json.loads(sys.argv[1])]\n"
        "for algorithm in ('sha256', 'blake3'):\n"
        "    print(' '.join(d.hex() for d in digest_ranges(items, algorithm, workers=2)))\n"
        "print(len(calls))\n"
    )
    import json

    sha, b3, calls = _in_fresh_interpreter(code, json.dumps(ranges)).split("\n")[:3]
    assert calls == "2"  # both algorithms took the forked path
    for (path, start, end), want_sha, want_b3 in zip(
        ranges, sha.split(" "), b3.split(" "), strict=True
    ):
        data = Path(path).read_bytes()[start:end]
        assert want_sha == hashlib.sha256(data).hexdigest()
        assert want_b3 == blake3.blake3(data).hexdigest()


def test_a_forked_worker_killed_mid_file_is_a_changed_file(files: list[Path]) -> None:
    # A file truncated under a mapping kills the worker with SIGBUS; here the worker
    # kills itself so on one file, and the hash must fail naming it, never pass.
    code = _FORKED + (
        "import os, signal\n"
        "mapped = digests._mapped_digest\n"
        "def bus(item, algorithm):\n"
        "    if item.path == sys.argv[1]:\n"
        "        os.kill(os.getpid(), signal.SIGBUS)\n"
        "    return mapped(item, algorithm)\n"
        "digests._mapped_digest = bus\n"
        "items = [Range(p) for p in sys.argv[1:]]\n"
        "try:\n"
        "    digest_ranges(items, 'blake3', workers=2)\n"
        "except digests.FileChangedError as exc:\n"
        "    print('changed', exc)\n"
        "else:\n"
        "    print('passed')\n"
    )
    out = _in_fresh_interpreter(code, str(files[3]), str(files[4]), str(files[2]))
    assert out.startswith("changed"), out
    assert str(files[3]) in out
    assert f"signal {int(__import__('signal').SIGBUS)}" in out


def test_forked_workers_report_unreadable_and_changed_files(files: list[Path]) -> None:
    missing = str(files[0]) + ".gone"
    code = _FORKED + (
        "from bastion.crypto import FileChangedError\n"
        "for items in ([Range(sys.argv[1]), Range(sys.argv[2])],\n"
        "              [Range(sys.argv[2], 0, 10**9), Range(sys.argv[2])]):\n"
        "    try:\n"
        "        digest_ranges(items, 'sha256', workers=2)\n"
        "    except FileChangedError as exc:\n"
        "        print('changed', exc)\n"
        "    except OSError as exc:\n"
        "        print(type(exc).__name__, exc.filename)\n"
    )
    out = _in_fresh_interpreter(code, missing, str(files[4])).splitlines()
    assert out[0] == f"FileNotFoundError {missing}"
    assert out[1].startswith("changed"), out
    assert "outside the file" in out[1]
