"""The symbolic pickle machine, opcode by opcode, on hand-made streams."""

from __future__ import annotations

import io
import pickle
import pickletools
import struct
from pathlib import Path

import pytest

from bastion.models import Severity
from bastion.scan import Status, scan_path
from bastion.scan._pickle_loop import run_one
from bastion.scan._pickle_vm import Machine, Malformed, Reader, Truncated
from bastion.scan.pickle import _NullSink, looks_like_pickle, strict_pickle_head


def scan_bytes(tmp_path: Path, data: bytes, name: str = "x.bin"):
    path = tmp_path / name
    path.write_bytes(data)
    report = scan_path(path, workers=1)
    return report.files[0]


def globals_of(result) -> set[str]:
    return {str(f.details.get("global")) for f in result.findings if "global" in f.details}


# A STACK_GLOBAL whose operands come from the memo, not from the opcodes before it.
MEMO_STACK_GLOBAL = (
    b"\x80\x04"
    b"\x8c\x02os\x94"  # memo 0 = "os"
    b"\x8c\x06system\x94"  # memo 1 = "system"
    b"0"  # POP: the operands are no longer on the stack
    b"0"
    b"h\x00h\x01\x93"  # BINGET 0, BINGET 1, STACK_GLOBAL
    b"\x8c\x02id\x85R."
)


def test_stack_global_fed_from_memo_is_resolved(tmp_path: Path) -> None:
    pickletools.dis(MEMO_STACK_GLOBAL, out=io.StringIO())  # a valid pickle
    result = scan_bytes(tmp_path, MEMO_STACK_GLOBAL)
    assert "os.system" in globals_of(result)
    worst = max(f.severity for f in result.findings)
    assert worst is Severity.CRITICAL


def test_every_pickle_in_a_stream_is_scanned(tmp_path: Path) -> None:
    benign = pickle.dumps({"weights": [1.0, 2.0]}, protocol=2)
    evil = b"cbuiltins\neval\n(S'1+1'\ntR."
    result = scan_bytes(tmp_path, benign + benign + evil)
    assert "builtins.eval" in globals_of(result)


def test_pickle_after_junk_is_found(tmp_path: Path) -> None:
    evil = b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."
    result = scan_bytes(tmp_path, b"\x89PNG\r\n\x1a\n" + b"\x00" * 100 + evil)
    rules = {f.rule for f in result.findings}
    assert "pickle.embedded" in rules
    assert "posix.system" in globals_of(result)
    assert result.status is Status.FINDINGS


def test_junk_after_a_clean_pickle_is_searched(tmp_path: Path) -> None:
    evil = b"cos\nsystem\n(S'id'\ntR."
    data = pickle.dumps([1, 2, 3], protocol=4) + b"\xfe\xfe garbage \xfe" + evil
    result = scan_bytes(tmp_path, data)
    assert "os.system" in globals_of(result)


def test_python2_names_are_mapped_before_the_policy(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, b"c__builtin__\neval\n(S'1'\ntR.")
    assert "builtins.eval" in globals_of(result)


def test_dotted_names_are_checked_by_every_suffix(tmp_path: Path) -> None:
    evil = b"\x80\x04\x8c\x05torch\x8c\x08hub.load\x93)R."
    result = scan_bytes(tmp_path, evil)
    finding = next(f for f in result.findings if f.details.get("global") == "torch.hub.load")
    assert finding.severity is Severity.CRITICAL


@pytest.mark.parametrize(
    ("payload", "rule"),
    [
        (b"\x80\x02\x82\x01)R.", "pickle.extension-code"),
        (b"\x80\x04N\x8c\x01x\x93)R.", "pickle.unresolved-global"),
        (b"\x80\x02cbuiltins\nlist\n)R)R.", "pickle.unresolved-call"),
        (b"\x80\x02ccollections\nOrderedDict\n}b.", "pickle.build-on-global"),
    ],
)
def test_unresolvable_targets_are_findings(tmp_path: Path, payload: bytes, rule: str) -> None:
    result = scan_bytes(tmp_path, payload)
    assert rule in {f.rule for f in result.findings}
    assert result.status is Status.FINDINGS


@pytest.mark.parametrize("op", [b"i", b"o", b"\x81", b"\x92"])
def test_every_call_opcode_counts_as_a_call(tmp_path: Path, op: bytes) -> None:
    streams = {
        b"i": b"(S'id'\nios\nsystem\n.",
        b"o": b"(cos\nsystem\nS'id'\no.",
        b"\x81": b"\x80\x02cos\nsystem\n)\x81.",
        b"\x92": b"\x80\x04cos\nsystem\n)}\x92.",
    }
    result = scan_bytes(tmp_path, streams[op])
    finding = next(f for f in result.findings if f.details.get("global") == "os.system")
    assert finding.details["called"] is True


def test_unknown_global_is_medium_and_high_when_called(tmp_path: Path) -> None:
    imported = scan_bytes(tmp_path, b"cmypkg.models\nNet\n.", "a")
    called = scan_bytes(tmp_path, b"cmypkg.models\nNet\n)R.", "b")
    assert imported.findings[0].severity is Severity.MEDIUM
    assert called.findings[0].severity is Severity.HIGH


def test_allowlisted_state_dict_is_clean(tmp_path: Path) -> None:
    data = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01X\x01\x00\x00\x00aK\x01s."
    result = scan_bytes(tmp_path, data)
    assert result.status is Status.CLEAN
    assert result.formats == ("pickle",)


@pytest.mark.parametrize("cut", [1, 5, 12, 20])
def test_truncated_pickle_is_an_error_never_clean(tmp_path: Path, cut: int) -> None:
    data = pickle.dumps({"a": list(range(10))}, protocol=4)
    result = scan_bytes(tmp_path, data[:-cut])
    assert result.status is Status.ERROR


def test_truncated_payload_still_reports_what_it_imports(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, b"\x80\x02cos\nsystem\n(S'id'\ntR")  # no STOP
    assert result.status is Status.ERROR
    assert "os.system" in globals_of(result)


def test_memo_read_before_write_is_malformed() -> None:
    machine = Machine(Reader(io.BytesIO(b"\x80\x02h\x05.")), _NullSink())
    with pytest.raises(Malformed):
        run_one(machine)


def test_huge_declared_length_is_truncated_not_allocated() -> None:
    data = b"\x80\x04\x8d" + struct.pack("<Q", 1 << 60) + b"abc"
    with pytest.raises(Truncated):
        run_one(Machine(Reader(io.BytesIO(data)), _NullSink()))


def test_long_memo_index_is_accepted_without_huge_allocation() -> None:
    data = b"\x80\x02K\x01r\xff\xff\xff\x7fj\xff\xff\xff\x7f."
    machine = Machine(Reader(io.BytesIO(data)), _NullSink())
    assert run_one(machine) == len(data) - 1


def test_deep_marks_hit_a_limit_not_a_crash(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, b"\x80\x02" + b"(" * 200_000 + b".")
    assert result.status is Status.ERROR


def test_sniffing_is_by_content() -> None:
    assert looks_like_pickle(pickle.dumps([1], protocol=0))
    assert looks_like_pickle(pickle.dumps({"a": (1, 2)}, protocol=1))
    assert not looks_like_pickle(b"cat\ndog\nthe rest of a text file")
    assert not looks_like_pickle(b"# README\n\nhello")
    assert not strict_pickle_head(b"\x80\x02\xff\xfe\x00\x01random")


def test_short_broken_pickle_that_imports_something_dangerous_is_not_text(tmp_path: Path) -> None:
    # pickletools reads these to STOP; pickle.loads would import os.system before it fails on
    # the missing MARK. Under 32 bytes of parse, so only the binary opcode or the denied
    # import tells them from text; found by the mutation property test.
    binary = b"cos\nsystem\n\x8c\x0ctouch /tmp/xtR0N."
    ascii_only = b"cos\nsystem\nVtouch /tmp/x\ntR0N."
    for data in (binary, ascii_only):
        assert looks_like_pickle(data)
        result = scan_bytes(tmp_path, data, "broken")
        assert result.status in (Status.FINDINGS, Status.ERROR), (data, result)
        assert result.status is not Status.FINDINGS or result.max_severity is Severity.CRITICAL
    # Text whose first lines merely look like an import of something harmless stays text.
    assert not looks_like_pickle(b"cat\ndog\nthe rest")


def test_every_protocol_of_plain_data_is_clean(tmp_path: Path) -> None:
    value = {"a": [1, 2.5, "x", b"y", None, True], "b": (1, (2, 3)), "c": {1, 2}, "d": -7}
    for proto in range(6):
        result = scan_bytes(tmp_path, pickle.dumps(value, protocol=proto), f"p{proto}")
        assert result.status is Status.CLEAN, (proto, result.findings, result.errors)


def test_allowlisted_module_function_that_loads_nested_pickles_is_critical(tmp_path: Path) -> None:
    # torch.storage._load_from_bytes(b) is torch.load(io.BytesIO(b), weights_only=False).
    data = b"\x80\x02ctorch.storage\n_load_from_bytes\nC\x04\x80\x02N.\x85R."
    result = scan_bytes(tmp_path, data)
    finding = next(f for f in result.findings if "_load_from_bytes" in str(f.details.get("global")))
    assert finding.severity is Severity.CRITICAL


@pytest.mark.parametrize("protocol", [2, 4])
def test_pickle_inside_bytes_is_scanned_where_it_is_read(tmp_path: Path, protocol: int) -> None:
    inner = b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R."
    if protocol == 2:  # bytes travel as _codecs.encode(text, "latin1")
        text = inner.decode("latin-1").encode("utf-8")
        arg = b"c_codecs\nencode\nX" + struct.pack("<I", len(text)) + text
        arg += b"X\x06\x00\x00\x00latin1\x86R"
    else:
        arg = b"C" + bytes([len(inner)]) + inner
    data = b"\x80" + bytes([protocol]) + b"ctorch.storage\n_load_from_bytes\n" + arg + b"\x85R."
    result = scan_bytes(tmp_path, data)
    nested = [f for f in result.findings if f.location.members]
    assert nested
    assert nested[0].details["global"] == "os.system"
    assert nested[0].location.members[0].startswith("<bytes at ")
    # the loader itself is not reported: every call passed bytes that were scanned
    assert not any("_load_from_bytes" in str(f.details.get("global")) for f in result.findings)


def test_nested_loader_on_bytes_it_cannot_see_is_critical(tmp_path: Path) -> None:
    data = b"\x80\x04ctorch.storage\n_load_from_bytes\ncmy.mod\nmake\n)R\x85R."
    result = scan_bytes(tmp_path, data)
    finding = next(f for f in result.findings if "_load_from_bytes" in str(f.details.get("global")))
    assert finding.severity is Severity.CRITICAL
