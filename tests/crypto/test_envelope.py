"""Segmented AES-256-GCM: round trips, and every kind of tampering raises IntegrityError."""

from __future__ import annotations

import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.crypto import envelope as env
from bastion.crypto.envelope import (
    HEADER_SIZE,
    BlobDecryptor,
    BlobEncryptor,
    decrypt_file,
    encrypt_file,
    new_data_key,
)
from bastion.errors import IntegrityError, VerificationError

SEG = 64  # small segments so that tests cross many boundaries
FRAME = 4 + SEG + 16  # a full segment on the wire
KEY = bytes(range(32))
AD = b"ns/model:1/weights.safetensors"


def seal(plaintext: bytes, *, key: bytes = KEY, ad: bytes = AD, seg: int = SEG) -> bytes:
    enc = BlobEncryptor(key, associated_data=ad, segment_size=seg)
    return enc.header() + enc.update(plaintext) + enc.finalize()


def open_(blob: bytes, *, key: bytes = KEY, ad: bytes = AD, chunk: int | None = None) -> bytes:
    dec = BlobDecryptor(key, associated_data=ad)
    step = chunk or max(1, len(blob))
    out = b"".join(dec.update(blob[i : i + step]) for i in range(0, len(blob), step))
    dec.finalize()
    return out


def segments(blob: bytes) -> tuple[bytes, list[bytes]]:
    body = blob[HEADER_SIZE:]
    return blob[:HEADER_SIZE], [body[i : i + FRAME] for i in range(0, len(body), FRAME)]


def plaintext(n: int) -> bytes:
    return bytes(i * 7 % 251 for i in range(n))


@pytest.mark.parametrize("n", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG, 3 * SEG + 5])
@pytest.mark.parametrize("chunk", [None, 1, 7, FRAME])
def test_round_trip(n: int, chunk: int | None) -> None:
    data = plaintext(n)
    blob = seal(data)
    segments_expected = n // SEG + 1  # the last is short, empty for an exact multiple
    assert len(blob) == HEADER_SIZE + n + segments_expected * 20
    assert open_(blob, chunk=chunk) == data


def test_encryptor_fed_in_odd_chunks_gives_the_same_segments() -> None:
    data = plaintext(5 * SEG + 3)
    enc = BlobEncryptor(KEY, associated_data=AD, segment_size=SEG)
    parts = [enc.header()]
    for i in range(0, len(data), 13):
        parts.append(enc.update(data[i : i + 13]))
    parts.append(enc.finalize())
    blob = b"".join(parts)
    assert open_(blob) == data
    assert len(blob) == len(seal(data))


def test_file_helpers_default_segment_size() -> None:
    data = plaintext(env.SEGMENT_SIZE * 2) + b"tail"
    sealed, opened = io.BytesIO(), io.BytesIO()
    written = encrypt_file(io.BytesIO(data), sealed, KEY, associated_data=AD)
    assert written == len(sealed.getvalue()) == HEADER_SIZE + len(data) + 3 * 20
    aligned = io.BytesIO()
    encrypt_file(io.BytesIO(data[:-4]), aligned, KEY, associated_data=AD)
    assert len(aligned.getvalue()) == HEADER_SIZE + len(data) - 4 + 3 * 20
    assert decrypt_file(io.BytesIO(sealed.getvalue()), opened, KEY, associated_data=AD) == len(data)
    assert opened.getvalue() == data


def test_fresh_salt_and_nonce_prefix_per_blob() -> None:
    assert new_data_key() != new_data_key()
    assert len(new_data_key()) == 32
    a, b = seal(b"same"), seal(b"same")
    assert a[:9] == b[:9]  # magic, version
    assert a[13:] != b[13:]


def test_integrity_error_is_a_verification_error() -> None:
    assert issubclass(IntegrityError, VerificationError)
    assert IntegrityError("x").hint


def test_truncation_at_a_segment_boundary() -> None:
    blob = seal(plaintext(3 * SEG + 5))
    header, segs = segments(blob)
    dec = BlobDecryptor(KEY, associated_data=AD)
    assert dec.update(header + b"".join(segs[:-1])) == plaintext(3 * SEG)  # verified prefix
    with pytest.raises(IntegrityError, match="truncated"):
        dec.finalize()


def test_truncation_of_an_exact_multiple_drops_the_empty_last_segment() -> None:
    blob = seal(plaintext(2 * SEG))
    header, segs = segments(blob)
    assert [len(s) for s in segs] == [FRAME, FRAME, 20]
    with pytest.raises(IntegrityError, match="truncated"):
        open_(header + segs[0] + segs[1])


def test_a_full_size_last_segment_is_not_canonical() -> None:
    blob = bytearray(seal(plaintext(2 * SEG)))
    blob[HEADER_SIZE + FRAME] |= 0x80  # segment 1 claims to be the last
    with pytest.raises(IntegrityError, match="invalid frame"):
        open_(bytes(blob[: HEADER_SIZE + 2 * FRAME]))


@pytest.mark.parametrize("cut", [0, 1, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 3, -1])
def test_truncation_anywhere(cut: int) -> None:
    blob = seal(plaintext(2 * SEG + 1))
    with pytest.raises(IntegrityError):
        open_(blob[:cut])


def test_reordered_segments() -> None:
    header, segs = segments(seal(plaintext(4 * SEG + 1)))
    swapped = [segs[0], segs[2], segs[1], *segs[3:]]
    with pytest.raises(IntegrityError, match="segment 1 failed"):
        open_(header + b"".join(swapped))


def test_duplicated_segment() -> None:
    header, segs = segments(seal(plaintext(3 * SEG + 1)))
    with pytest.raises(IntegrityError):
        open_(header + b"".join([segs[0], segs[0], *segs[1:]]))
    with pytest.raises(IntegrityError, match="after the last segment"):
        open_(header + b"".join([*segs, segs[-1]]))


def test_segment_spliced_from_another_blob_under_the_same_key() -> None:
    data = plaintext(2 * SEG + 1)
    header, segs = segments(seal(data))
    _, other = segments(seal(data))
    with pytest.raises(IntegrityError):
        open_(header + segs[0] + other[1] + segs[2])


@pytest.mark.parametrize("where", ["frame", "body", "tag", "final-flag"])
def test_bit_flips(where: str) -> None:
    blob = bytearray(seal(plaintext(2 * SEG + 9)))
    offset = {
        "frame": HEADER_SIZE + FRAME + 3,  # length of segment 1
        "body": HEADER_SIZE + FRAME + 4 + 10,
        "tag": HEADER_SIZE + 2 * FRAME - 1,
        "final-flag": HEADER_SIZE,  # top bit of segment 0's frame
    }[where]
    blob[offset] ^= 0x80 if where == "final-flag" else 0x01
    with pytest.raises(IntegrityError):
        open_(bytes(blob))


@pytest.mark.parametrize(
    ("field", "offset", "match"),
    [
        ("magic", 0, "magic"),
        ("version", 8, "version"),
        ("segment size", 12, "frame|failed"),
        ("segment size range", 9, "segment size"),
        ("salt", 20, "failed"),
        ("nonce prefix", HEADER_SIZE - 1, "failed"),
    ],
)
def test_header_edits(field: str, offset: int, match: str) -> None:
    blob = bytearray(seal(plaintext(SEG + 1)))
    blob[offset] ^= 0x01 if field != "segment size range" else 0x40
    with pytest.raises(IntegrityError, match=match):
        open_(bytes(blob))


def test_segment_size_edit_that_keeps_the_frames_consistent() -> None:
    # A blob of one short segment: a header claiming a larger segment size still frames,
    # but the header is authenticated, so the tag fails.
    blob = bytearray(seal(b"short"))
    blob[12] += 1
    with pytest.raises(IntegrityError, match="segment 0 failed"):
        open_(bytes(blob))


def test_wrong_key_and_wrong_associated_data() -> None:
    blob = seal(plaintext(SEG))
    with pytest.raises(IntegrityError, match="wrong key"):
        open_(blob, key=new_data_key())
    with pytest.raises(IntegrityError, match="associated"):
        open_(blob, ad=AD + b"x")
    with pytest.raises(IntegrityError):
        open_(blob, ad=b"")


def test_decryptor_refuses_use_after_a_failure() -> None:
    blob = bytearray(seal(plaintext(3 * SEG)))
    blob[-1] ^= 1
    dec = BlobDecryptor(KEY, associated_data=AD)
    with pytest.raises(IntegrityError):
        dec.update(bytes(blob))
    with pytest.raises(IntegrityError, match="already failed"):
        dec.update(b"")
    with pytest.raises(IntegrityError, match="already failed"):
        dec.finalize()


def test_file_decryption_fails_on_tampering() -> None:
    sealed = io.BytesIO()
    encrypt_file(io.BytesIO(b"x" * 100), sealed, KEY, associated_data=AD)
    with pytest.raises(IntegrityError):
        decrypt_file(io.BytesIO(sealed.getvalue()[:-1]), io.BytesIO(), KEY, associated_data=AD)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        BlobEncryptor(b"short", associated_data=b"")
    with pytest.raises(ValueError, match="32 bytes"):
        BlobDecryptor(b"k" * 16, associated_data=b"")
    for size in (env.MIN_SEGMENT_SIZE - 1, env.MAX_SEGMENT_SIZE + 1):
        with pytest.raises(ValueError, match="segment_size"):
            BlobEncryptor(KEY, associated_data=b"", segment_size=size)
    enc = BlobEncryptor(KEY, associated_data=b"")
    enc.finalize()
    with pytest.raises(ValueError, match="after finalize"):
        enc.update(b"x")
    with pytest.raises(ValueError, match="twice"):
        enc.finalize()


# --- properties -------------------------------------------------------------------------

sizes = st.one_of(
    st.integers(0, 6 * SEG),
    st.integers(0, 6).map(lambda k: k * SEG),  # exact multiples, 0 included
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(n=sizes, seg=st.sampled_from([16, 17, SEG, 100]), chunk=st.integers(1, 300))
def test_property_round_trip(n: int, seg: int, chunk: int) -> None:
    data = plaintext(n)
    assert open_(seal(data, seg=seg), chunk=chunk) == data


def _feed(blob: bytes, chunk: int, out: list[bytes]) -> None:
    dec = BlobDecryptor(KEY, associated_data=AD)
    for i in range(0, len(blob), chunk):
        out.append(dec.update(blob[i : i + chunk]))
    dec.finalize()


def _verified_prefix_or_error(blob: bytes, data: bytes, chunk: int) -> None:
    out: list[bytes] = []
    with pytest.raises(IntegrityError):
        _feed(blob, chunk, out)
    assert data.startswith(b"".join(out))  # only authenticated plaintext ever came out


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(n=sizes, position=st.integers(0), flip=st.integers(1, 255), chunk=st.integers(1, 200))
def test_property_any_corruption_raises(n: int, position: int, flip: int, chunk: int) -> None:
    data = plaintext(n)
    blob = bytearray(seal(data))
    blob[position % len(blob)] ^= flip
    _verified_prefix_or_error(bytes(blob), data, chunk)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(n=sizes, cut=st.integers(0), chunk=st.integers(1, 200))
def test_property_any_truncation_raises(n: int, cut: int, chunk: int) -> None:
    data = plaintext(n)
    blob = seal(data)
    _verified_prefix_or_error(blob[: cut % len(blob)], data, chunk)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    junk=st.one_of(
        st.binary(max_size=600),
        st.binary(max_size=400).map(lambda b: seal(b"")[:HEADER_SIZE] + b),
        st.binary(max_size=400).map(lambda b: env.MAGIC + b),
    ),
    chunk=st.integers(1, 100),
)
def test_property_arbitrary_bytes_only_raise_integrity_error(junk: bytes, chunk: int) -> None:
    with pytest.raises(IntegrityError):
        _feed(junk, chunk, [])


class _ReadOnly:
    """A stream with read() alone (no readinto), as some file-like objects are."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._inner.read(min(n, 1000))  # short reads too


def test_file_helpers_accept_streams_without_readinto() -> None:
    data = plaintext(3000)
    sealed, opened = io.BytesIO(), io.BytesIO()
    encrypt_file(_ReadOnly(data), sealed, KEY, associated_data=AD)  # type: ignore[arg-type]
    decrypt_file(_ReadOnly(sealed.getvalue()), opened, KEY, associated_data=AD)  # type: ignore[arg-type]
    assert opened.getvalue() == data
    memory = BlobEncryptor(KEY, associated_data=AD, segment_size=SEG)
    chunks = [memory.header(), memory.update(memoryview(data)), memory.update(bytearray(b"x"))]
    assert open_(b"".join([*chunks, memory.finalize()])) == data + b"x"


# -- random access -----------------------------------------------------------------------


def reader(blob: bytes, size: int, *, key: bytes = KEY, ad: bytes = AD) -> env.SegmentReader:
    return env.SegmentReader(io.BytesIO(blob), key, associated_data=ad, size=size)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(0, 5 * SEG),
    seg=st.sampled_from([16, 17, SEG]),
    ops=st.lists(st.tuples(st.integers(-10, 6 * SEG), st.integers(0, 3 * SEG)), max_size=12),
)
def test_property_random_access_reads_the_plaintext(
    n: int, seg: int, ops: list[tuple[int, int]]
) -> None:
    data = plaintext(n)
    r = io.BufferedReader(reader(seal(data, seg=seg), n), buffer_size=seg + 3)
    assert r.read() == data
    for at, count in ops:
        if at < 0:
            with pytest.raises(ValueError, match="negative"):
                r.seek(at)
            continue
        r.seek(at)
        assert r.read(count) == data[at : at + count]
    assert r.seek(0, io.SEEK_END) == n


@settings(max_examples=150, deadline=None)
@given(n=st.integers(1, 4 * SEG), position=st.integers(0, 10**6), flip=st.integers(1, 255))
def test_property_random_access_never_returns_altered_bytes(
    n: int, position: int, flip: int
) -> None:
    data = plaintext(n)
    blob = bytearray(seal(data))
    blob[position % len(blob)] ^= flip
    # whatever was altered, reading to the end fails (at open, or before the bytes return)
    with pytest.raises(IntegrityError):
        io.BufferedReader(reader(bytes(blob), n)).read()


def test_random_access_refuses_wrong_size_swapped_segments_and_wrong_key() -> None:
    data = plaintext(3 * SEG + 5)
    blob = seal(data)
    for size in (len(data) - 1, len(data) + 1, 0):
        with pytest.raises(IntegrityError, match="length does not match"):
            reader(blob, size)
    head, segs = segments(blob)
    swapped = head + segs[1] + segs[0] + b"".join(segs[2:])
    r = reader(swapped, len(data))
    with pytest.raises(IntegrityError, match="segment 0 failed authentication"):
        r.read(1)
    r.seek(2 * SEG)  # an untouched segment still reads: each one stands on its own
    assert r.read(SEG) == data[2 * SEG : 3 * SEG]
    with pytest.raises(IntegrityError, match="failed authentication"):
        reader(blob, len(data), key=bytes(32)).read(1)
    with pytest.raises(IntegrityError, match="truncated: no complete header"):
        reader(blob[: HEADER_SIZE - 1], 0)
