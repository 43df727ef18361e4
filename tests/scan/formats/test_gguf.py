"""GGUF: files written by the real ``gguf`` library; chat templates for injection."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import gguf
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.models import Severity
from bastion.scan import Status
from bastion.scan._template import analyse, analyse_tokens, lex_fallback
from bastion.scan.gguf import GGML_BLOCKS
from tests.scan.formats._util import assert_clean, assert_flagged, scan, scan_bytes
from tests.scan.formats.templates import BENIGN, MALICIOUS


def write_gguf(path: Path, template: str | None, **named: str) -> Path:
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny")
    writer.add_context_length(128)
    writer.add_token_list(["<s>", "</s>", "hello", "▁world"])
    writer.add_token_scores([0.0, 0.0, -1.0, -2.0])
    if template is not None:
        writer.add_chat_template(template)
    for name, text in named.items():
        writer.add_string(f"tokenizer.chat_template.{name}", text)
    writer.add_tensor("tok_embd.weight", np.ones((4, 8), np.float32))
    writer.add_tensor("norm.weight", np.zeros(8, np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_our_block_table_matches_ggml() -> None:
    theirs = {int(k): v for k, v in gguf.GGML_QUANT_SIZES.items()}
    assert {k: GGML_BLOCKS[k] for k in theirs if k in GGML_BLOCKS} == theirs


def test_file_without_template_is_clean(tmp_path: Path) -> None:
    result = scan(write_gguf(tmp_path / "m.gguf", None))
    assert_clean(result)
    assert result.formats == ("gguf",)


@pytest.mark.parametrize("family", sorted(BENIGN))
def test_benign_templates_are_clean(tmp_path: Path, family: str) -> None:
    assert_clean(scan(write_gguf(tmp_path / "m.gguf", BENIGN[family])))


@pytest.mark.parametrize("attack", sorted(MALICIOUS))
def test_injected_templates_are_flagged(tmp_path: Path, attack: str) -> None:
    result = scan(write_gguf(tmp_path / "m.gguf", MALICIOUS[attack]))
    assert_flagged(result, "chat-template.injection", Severity.HIGH)


def test_named_templates_are_checked_too(tmp_path: Path) -> None:
    path = write_gguf(tmp_path / "m.gguf", BENIGN["llama3"], tool_use=MALICIOUS["plain-os"])
    result = scan(path)
    assert_flagged(result, "chat-template.injection", Severity.HIGH)
    assert result.findings[0].details["key"] == "tokenizer.chat_template.tool_use"


def test_unlexable_template_is_reported(tmp_path: Path) -> None:
    result = scan(write_gguf(tmp_path / "m.gguf", "{{ 'unterminated }}"))
    assert_flagged(result, "chat-template.unparseable")


@pytest.mark.parametrize("family", sorted(BENIGN))
def test_fallback_lexer_agrees_on_benign(family: str) -> None:
    assert analyse_tokens(list(lex_fallback(BENIGN[family]))) == []
    assert analyse(BENIGN[family]) == []


@pytest.mark.parametrize("attack", sorted(MALICIOUS))
def test_fallback_lexer_agrees_on_malicious(attack: str) -> None:
    assert analyse_tokens(list(lex_fallback(MALICIOUS[attack])))


def gguf_bytes(
    kvs: bytes = b"",
    n_kv: int = 0,
    tensors: list[tuple[str, int, int, int]] = (),
    data: bytes = b"",
) -> bytes:
    """Version 3, little-endian; tensors as (name, elements, ggml type, offset)."""
    infos = b""
    for name, count, ggml_type, offset in tensors:
        raw = name.encode()
        infos += (
            struct.pack("<Q", len(raw)) + raw + struct.pack("<IQIQ", 1, count, ggml_type, offset)
        )
    body = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), n_kv) + kvs + infos
    return body + b"\0" * (-len(body) % 32) + data


def test_tensor_past_the_end(tmp_path: Path) -> None:
    data = gguf_bytes(tensors=[("w", 16, 0, 0)], data=b"\0" * 32)
    assert_flagged(scan_bytes(tmp_path, data), "gguf.tensor-out-of-bounds")
    assert_clean(scan_bytes(tmp_path, gguf_bytes(tensors=[("w", 8, 0, 0)], data=b"\0" * 32)))


def test_misaligned_tensor(tmp_path: Path) -> None:
    data = gguf_bytes(tensors=[("w", 1, 0, 4)], data=b"\0" * 64)
    assert_flagged(scan_bytes(tmp_path, data), "gguf.tensor-out-of-bounds")


@pytest.mark.parametrize(
    "data",
    [
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1 << 40),  # absurd metadata count
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1 << 40),  # key length
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k" + struct.pack("<I", 77),  # noqa: E501
        b"GGUF" + struct.pack("<IQQ", 9, 0, 0),  # unknown version
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 1) + b"k",  # truncated
        b"GGUF" + struct.pack("<IQQ", 3, 0, 1)
        + struct.pack("<Q", 1) + b"k" + struct.pack("<IIQ", 9, 0, 1 << 40),  # huge array
    ],
)  # fmt: skip
def test_malformed_headers_are_errors(tmp_path: Path, data: bytes) -> None:
    assert scan_bytes(tmp_path, data).status is Status.ERROR


def test_big_endian_file(tmp_path: Path) -> None:
    key = b"tokenizer.chat_template"
    value = MALICIOUS["plain-os"].encode()
    kv = struct.pack(">Q", len(key)) + key + struct.pack(">IQ", 8, len(value)) + value
    data = b"GGUF" + struct.pack(">IQQ", 3, 0, 1) + kv
    assert_flagged(scan_bytes(tmp_path, data), "chat-template.injection")


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_files_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    base = tmp_path / "base.gguf"
    if not base.exists():
        write_gguf(base, BENIGN["chatml-qwen"])
    raw = bytearray(base.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    result = scan_bytes(tmp_path, bytes(raw[:cut]), "m.gguf")
    assert result.status in (Status.CLEAN, Status.FINDINGS, Status.ERROR, Status.SKIPPED)


@settings(max_examples=200, deadline=None)
@given(source=st.text(alphabet="{}%#-_.|'\"~+()[] abcdefglos\n", max_size=80))
def test_random_templates_never_crash(source: str) -> None:
    with contextlib.suppress(ValueError):
        analyse(source)
    analyse_tokens(list(lex_fallback(source)))


def test_a_repeated_template_key_is_checked_every_time(tmp_path: Path) -> None:
    def kv(key: bytes, value: bytes) -> bytes:
        return struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, len(value)) + value

    key = b"tokenizer.chat_template"
    kvs = kv(key, MALICIOUS["plain-os"].encode()) + kv(key, BENIGN["llama3"].encode())
    result = scan_bytes(tmp_path, gguf_bytes(kvs, n_kv=2))
    assert_flagged(result, "chat-template.injection")


@pytest.mark.parametrize(
    ("source", "risky"),
    [
        ("{{ x['_TemplateReference__context'] }}", True),
        ("{{ x['__class__'] }}", True),
        ("{{ x['__cla' ~ 'ss'] }}", True),
        ("{{ x['_' ~ '_class_' ~ '_'] }}", True),
        ("{{ ['_', '_', 'mro'] | join }}", True),
        ("{{ ['a', '_', 'b'] | join }}", False),
        ("{{ '____' ~ message['content'] ~ '____' }}", False),
        ("{{ 'snake_case_name' }}", False),
    ],
)
def test_string_level_dunders(source: str, risky: bool) -> None:
    assert bool(analyse(source)) is risky
    assert bool(analyse_tokens(list(lex_fallback(source)))) is risky
