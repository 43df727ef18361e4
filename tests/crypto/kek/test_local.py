"""The key-file provider: 0600 files, atomic writes, rotation, and refusal of unsafe files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from bastion.crypto.envelope import new_data_key
from bastion.crypto.kek import (
    PROVIDERS,
    KeyProvider,
    KeyProviderError,
    KeyRef,
    LocalKeyFileProvider,
    WrappedKey,
    rewrap,
)
from bastion.errors import IntegrityError


def test_create_writes_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "kek.json"
    old = os.umask(0)  # even a permissive umask gives 0600
    try:
        provider = LocalKeyFileProvider.create(path)
    finally:
        os.umask(old)
    assert isinstance(provider, KeyProvider)
    assert PROVIDERS["local"] is LocalKeyFileProvider
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    doc = json.loads(path.read_text())
    assert doc["key_id"] == "local"
    assert doc["current"] == 1
    assert provider.current() == KeyRef("local", 1)
    assert [p.name for p in tmp_path.iterdir()] == ["kek.json"]  # no temporary file left


def test_create_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "kek.json"
    LocalKeyFileProvider.create(path)
    before = path.read_bytes()
    with pytest.raises(KeyProviderError, match="already exists"):
        LocalKeyFileProvider.create(path)
    assert path.read_bytes() == before
    assert len(list(tmp_path.iterdir())) == 1


def test_wrap_unwrap_rotate_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "kek.json"
    provider = LocalKeyFileProvider.create(path, key_id="site-a")
    data_key = new_data_key()
    v1 = provider.wrap(data_key, context=b"blob-1")
    assert (v1.key_id, v1.version) == ("site-a", 1)
    assert provider.unwrap(v1, context=b"blob-1") == data_key

    assert provider.rotate() == KeyRef("site-a", 2)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [".kek.json.lock", "kek.json"]
    v2 = rewrap(v1, provider, context=b"blob-1")
    assert v2.version == 2

    reopened = LocalKeyFileProvider.open(path)
    assert reopened.current() == KeyRef("site-a", 2)
    assert reopened.unwrap(v1, context=b"blob-1") == data_key
    assert reopened.unwrap(v2, context=b"blob-1") == data_key


def test_unwrap_refuses_tampering_and_mismatches(tmp_path: Path) -> None:
    provider = LocalKeyFileProvider.create(tmp_path / "kek.json")
    wrapped = provider.wrap(new_data_key(), context=b"blob-1")
    with pytest.raises(IntegrityError, match="another context"):
        provider.unwrap(wrapped, context=b"blob-2")
    for i in (0, 12, len(wrapped.ciphertext) - 1):  # nonce, body, tag
        flipped = bytearray(wrapped.ciphertext)
        flipped[i] ^= 1
        with pytest.raises(IntegrityError):
            provider.unwrap(WrappedKey("local", 1, bytes(flipped)), context=b"blob-1")
    with pytest.raises(IntegrityError, match="not held"):
        provider.unwrap(WrappedKey("local", 2, wrapped.ciphertext), context=b"blob-1")
    with pytest.raises(IntegrityError, match="not held"):
        provider.unwrap(WrappedKey("other", 1, wrapped.ciphertext), context=b"blob-1")
    provider.rotate()
    with pytest.raises(IntegrityError):  # relabelled as the new version
        provider.unwrap(WrappedKey("local", 2, wrapped.ciphertext), context=b"blob-1")
    with pytest.raises(IntegrityError):
        provider.unwrap(WrappedKey("local", 1, b"tiny"), context=b"blob-1")
    other = LocalKeyFileProvider.create(tmp_path / "other.json")
    with pytest.raises(IntegrityError):  # same id and version, another key
        other.unwrap(wrapped, context=b"blob-1")
    with pytest.raises(ValueError, match="32 bytes"):
        provider.wrap(b"short", context=b"")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_open_refuses_a_file_others_may_read(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "kek.json"
    LocalKeyFileProvider.create(path)
    path.chmod(mode)
    with pytest.raises(KeyProviderError, match="group or others") as info:
        LocalKeyFileProvider.open(path)
    assert "chmod 600" in info.value.hint


def test_open_refuses_symlinks_and_missing_files(tmp_path: Path) -> None:
    real = tmp_path / "kek.json"
    LocalKeyFileProvider.create(real)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    with pytest.raises(KeyProviderError, match="cannot open"):
        LocalKeyFileProvider.open(link)
    with pytest.raises(KeyProviderError, match="cannot open"):
        LocalKeyFileProvider.open(tmp_path / "absent.json")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[]",
        b"\xff\xfe",
        b"[" * 100_000,
        json.dumps({"format": "other", "format_version": 1}).encode(),
        json.dumps(
            {"format": "bastion-kek", "format_version": 1, "key_id": "k", "current": 1, "keys": {}}
        ).encode(),
        json.dumps(
            {
                "format": "bastion-kek",
                "format_version": 1,
                "key_id": "k",
                "current": 1,
                "keys": {"1": "c2hvcnQ="},
            }
        ).encode(),
        json.dumps(
            {
                "format": "bastion-kek",
                "format_version": 1,
                "key_id": "bad id",
                "current": 1,
                "keys": {"1": "A" * 44},
            }
        ).encode(),
        json.dumps(
            {
                "format": "bastion-kek",
                "format_version": 1,
                "key_id": "k",
                "current": 1,
                "keys": {"x": "A" * 44},
            }
        ).encode(),
    ],
)
def test_open_refuses_invalid_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "kek.json"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyProviderError, match="invalid"):
        LocalKeyFileProvider.open(path)


def test_providers_sharing_a_file_see_each_others_rotations(tmp_path: Path) -> None:
    path = tmp_path / "kek.json"
    worker_a = LocalKeyFileProvider.create(path)
    worker_b = LocalKeyFileProvider.open(path)
    data_key = new_data_key()
    assert worker_a.rotate().version == 2
    wrapped = worker_a.wrap(data_key, context=b"c")
    assert worker_b.unwrap(wrapped, context=b"c") == data_key  # b reloads on the miss
    assert worker_b.wrap(data_key, context=b"c").version == 2  # and wraps with v2
    assert worker_b.rotate().version == 3  # rotation re-reads under the lock
    assert worker_a.rotate().version == 4  # never a version number twice
    reopened = LocalKeyFileProvider.open(path)
    assert reopened.current().version == 4
    assert sorted(json.loads(path.read_text())["keys"]) == ["1", "2", "3", "4"]
    assert stat.S_IMODE((tmp_path / ".kek.json.lock").stat().st_mode) == 0o600
