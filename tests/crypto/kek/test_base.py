"""Wrapped keys serialise and parse strictly; key references are validated."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.crypto.kek import KeyRef, WrappedKey
from bastion.errors import IntegrityError

key_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True)


@given(key_id=key_ids, version=st.integers(1, 2**32 - 1), ct=st.binary(min_size=1, max_size=512))
def test_round_trip(key_id: str, version: int, ct: bytes) -> None:
    wrapped = WrappedKey(key_id, version, ct)
    assert WrappedKey.from_bytes(wrapped.to_bytes()) == wrapped
    assert wrapped.ref == KeyRef(key_id, version)


@settings(max_examples=300)
@given(
    data=st.one_of(st.binary(max_size=200), st.binary(max_size=200).map(lambda b: b"BWK\x01" + b))
)
def test_arbitrary_bytes_parse_or_raise_integrity_error(data: bytes) -> None:
    try:
        wrapped = WrappedKey.from_bytes(data)
    except IntegrityError:
        return
    assert wrapped.to_bytes() == data


def test_truncated_and_extended_bytes_are_refused() -> None:
    good = WrappedKey("local", 3, b"c" * 60).to_bytes()
    for bad in (good[:-1], good + b"x", good[:10], b"BWK\x02" + good[4:], b"\x00" * 2000):
        with pytest.raises(IntegrityError):
            WrappedKey.from_bytes(bad)


@pytest.mark.parametrize(
    ("key_id", "version"), [("", 1), ("a:v1", 1), ("x" * 129, 1), ("ok", 0), ("ok", 2**32)]
)
def test_invalid_refs(key_id: str, version: int) -> None:
    with pytest.raises(ValueError, match="invalid key"):
        KeyRef(key_id, version)
    with pytest.raises(ValueError, match="invalid key"):
        WrappedKey(key_id, version, b"c")


def test_public_names() -> None:
    from bastion.crypto import envelope, kek

    assert set(kek.__all__) == {
        "PROVIDERS",
        "KeyProvider",
        "KeyProviderError",
        "KeyRef",
        "LocalKeyFileProvider",
        "Pkcs11Provider",
        "WrappedKey",
        "rewrap",
    }
    assert set(envelope.__all__) == {
        "HEADER_SIZE",
        "MAX_SEGMENT_SIZE",
        "MIN_SEGMENT_SIZE",
        "SEGMENT_SIZE",
        "BlobDecryptor",
        "BlobEncryptor",
        "SegmentReader",
        "decrypt_file",
        "encrypt_file",
        "new_data_key",
    }
    for module in (kek, envelope):
        for name in module.__all__:
            assert getattr(module, name) is not None
    assert envelope.SEGMENT_SIZE == 1 << 20
