"""The protobuf wire reader under ONNX and SavedModel: exact on valid input, bounded and
never crashing on anything else."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.errors import ScanError
from bastion.scan._protobuf import LENGTH, VARINT, Message, packed_or_plain_ints
from bastion.scan._seekable import Window
from tests.scan.formats.test_savedmodel import ld, varint


def message(data: bytes) -> Message:
    return Message.whole(Window(io.BytesIO(data)))


field = st.tuples(
    st.integers(1, 2**29 - 1),
    st.sampled_from([VARINT, LENGTH]),
    st.integers(0, 2**64 - 1),
    st.binary(max_size=40),
)
fields = st.lists(field, max_size=20)


@given(fields)
def test_decodes_what_was_encoded(spec: list[tuple[int, int, int, bytes]]) -> None:
    data = b"".join(
        varint(n << 3 | VARINT) + varint(v) if wire == VARINT else ld(n, payload)
        for n, wire, v, payload in spec
    )
    got = [(f.number, f.wire, f.value) for f in message(data)]
    want = [(n, w, v if w == VARINT else len(p)) for n, w, v, p in spec]
    assert got == want


def walk(msg: Message, depth: int = 0) -> int:
    count = 0
    for field in msg:
        count += 1
        if field.wire == LENGTH and depth < 3:
            with contextlib.suppress(ScanError):  # a payload may be bytes, not a message
                count += walk(msg.sub(field), depth + 1)
    return count


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_only_raise_scan_errors(data: bytes) -> None:
    with contextlib.suppress(ScanError):
        walk(message(data))
        packed_or_plain_ints(message(data), 1)


def test_length_past_the_message_is_an_error() -> None:
    data = varint(2 << 3 | LENGTH) + varint(1 << 40) + b"x"
    with pytest.raises(ScanError, match="past the end"):
        list(message(data))


def test_deep_nesting_is_bounded() -> None:
    data = b"x"
    for _ in range(80):
        data = ld(1, data)

    def descend() -> None:
        msg = message(data)
        for _ in range(80):
            msg = next(msg.messages(1))

    with pytest.raises(ScanError, match="nested"):
        descend()
