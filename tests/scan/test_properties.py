"""Property tests: the scanner survives hostile bytes and never imports what it reads.

Every example is small, so each property stays fast without asserting on time.
"""

from __future__ import annotations

import io
import os
import pickle
import pickletools
import sys
import tarfile
import tempfile
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bastion.models import Severity
from bastion.scan import FileResult, Status, scan_path

from ._checks import describe
from .corpus import _asm as a

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: for properties that scan two files per example, or build archives
HALF = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# If any example's payload ever ran, this file would exist (checked after every scan).
TRACE = Path(tempfile.gettempdir()) / f"bastion-property-TRACE-{os.getpid()}"
DANGEROUS = a.call(a.glob("os", "system"), a.ustr(f"touch {TRACE}"))
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
    st.text(max_size=20), st.binary(max_size=20),
)  # fmt: skip
PLAIN = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
        st.tuples(inner, inner),
    ),
    max_leaves=12,
)


@contextmanager
def _scanned(data: bytes, name: str = "sample.bin") -> Iterator[FileResult]:
    """Write ``data`` to a fresh folder, scan it in-process, check the report's shape."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        report = scan_path(path, workers=1)
        assert len(report.files) == 1
        result = report.files[0]
        assert isinstance(result.status, Status)
        assert report.exit_code() in (0, 1, 2)
        for finding in result.findings:
            assert isinstance(finding.severity, Severity)
            assert finding.rule
            assert finding.location.path
        assert not TRACE.exists()
        yield result


def _well_formed(data: bytes) -> None:
    with _scanned(data):
        pass


Mutation = tuple[str, int, int, bytes]  # op, position, amount, inserted bytes
#: up to four mutations; positions wrap around the input, so the draw stays small to print
MUTATIONS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "truncate", "splice", "dup", "delete"]),
        st.integers(0, 1 << 20),
        st.integers(0, 63),
        st.binary(min_size=1, max_size=16),
    ),
    min_size=1,
    max_size=4,
)


def _mutate(seed: bytes, mutations: list[Mutation]) -> bytes:
    """Bit flips, truncation, splices, duplicated and deleted runs of ``seed``."""
    data = bytearray(seed)
    for op, pos, amount, insert in mutations:
        if not data:
            break
        i = pos % len(data)
        if op == "flip":
            data[i] ^= 1 << (amount % 8)
        elif op == "truncate":
            del data[i:]
        elif op == "splice":
            data[i:i] = insert
        elif op == "dup":
            data[i:i] = data[i : i + amount]
        else:
            del data[i : i + amount % 9]
    return bytes(data)


SEED_NAMES = ["torch-zip", "torch-legacy", "npy", "numpy-p5", *(f"plain-p{p}" for p in range(6))]


@pytest.fixture(scope="module")
def seeds() -> dict[str, bytes]:
    """Valid files of each format, made by the real libraries, to mutate."""
    import numpy as np
    import torch

    out: dict[str, bytes] = {}
    buf = io.BytesIO()
    torch.save({"w": torch.arange(4, dtype=torch.float16)}, buf)
    out["torch-zip"] = buf.getvalue()
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf, _use_new_zipfile_serialization=False)
    out["torch-legacy"] = buf.getvalue()
    buf = io.BytesIO()
    np.save(buf, np.arange(6, dtype=np.int32))
    out["npy"] = buf.getvalue()
    out["numpy-p5"] = pickle.dumps(np.eye(2), protocol=5)
    for protocol in range(6):
        out[f"plain-p{protocol}"] = pickle.dumps({"a": [1, 2.5, "x"], "b": (None, True)}, protocol)
    return out


# -- never raises ------------------------------------------------------------------------


@PROPS
@given(st.binary(max_size=512))
def test_random_bytes(data: bytes) -> None:
    _well_formed(data)


@PROPS
@given(
    st.sampled_from([b"\x80", b"PK\x03\x04", b"\x93NUMPY", b"\x1f\x8b", b"BZh", b"\xfd7zXZ"]),
    st.binary(max_size=256),
)
def test_random_bytes_behind_magic(magic: bytes, tail: bytes) -> None:
    _well_formed(magic + tail)


@PROPS
@given(st.sampled_from(SEED_NAMES), MUTATIONS)
def test_mutated_library_files(
    seeds: dict[str, bytes], name: str, mutations: list[Mutation]
) -> None:
    _well_formed(_mutate(seeds[name], mutations))


@PROPS
@given(PLAIN, st.integers(0, 5), MUTATIONS)
def test_mutated_plain_pickles(value: Any, protocol: int, mutations: list[Mutation]) -> None:
    _well_formed(_mutate(pickle.dumps(value, protocol=protocol), mutations))


ZipSpec = list[tuple[str, int, int, bytes]]  # name, compress type, st_mode bits, content
TarSpec = tuple[str, list[tuple[str, bytes, str, bytes]]]  # mode, [(name, type, link, content)]

_ZIP_SPEC = st.lists(
    st.tuples(
        st.text(
            st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=12
        ).map(lambda n: n.replace("\\", "/"))
        | st.sampled_from(["../x.pkl", "/abs.pkl", "dir/", "a.pkl"]),
        st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]),
        st.integers(0, 0xFFFF),
        st.binary(max_size=64) | PLAIN.map(lambda v: pickle.dumps(v, 4)),
    ),
    max_size=4,
)
_TAR_SPEC = st.tuples(
    st.sampled_from(["w", "w:gz"]),
    st.lists(
        st.tuples(
            st.sampled_from(["a.pkl", "../up.pkl", "/abs.pkl", "dir/x", "dir"]),
            st.sampled_from([tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE]),
            st.sampled_from(["", "a.pkl", "../../etc", "/abs"]),
            st.binary(max_size=64),
        ),
        max_size=4,
    ),
)


def _zip_bytes(spec: ZipSpec) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are part of the point
        with zipfile.ZipFile(out, "w") as zf:
            for name, compress, mode, content in spec:
                info = zipfile.ZipInfo(name)
                info.compress_type = compress
                info.external_attr = mode << 16
                zf.writestr(info, content)
    return out.getvalue()


def _tar_bytes(spec: TarSpec) -> bytes:
    mode, members = spec
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tf:
        for name, kind, link, content in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            body = content if kind == tarfile.REGTYPE else b""
            info.size = len(body)
            tf.addfile(info, io.BytesIO(body))
    return out.getvalue()


@HALF
@given(_ZIP_SPEC, MUTATIONS)
def test_random_zip_structures(spec: ZipSpec, mutations: list[Mutation]) -> None:
    raw = _zip_bytes(spec)
    _well_formed(raw)
    _well_formed(_mutate(raw, mutations))


@HALF
@given(_TAR_SPEC, MUTATIONS)
def test_random_tar_structures(spec: TarSpec, mutations: list[Mutation]) -> None:
    raw = _tar_bytes(spec)
    _well_formed(raw)
    _well_formed(_mutate(raw, mutations))


# -- malicious stays malicious -----------------------------------------------------------


def _infected(value: Any, protocol: int) -> bytes:
    """pickle.dumps(value) with ``os.system(...)`` + POP spliced in after PROTO."""
    clean = pickle.dumps(value, protocol=protocol)
    at = 2 if protocol >= 2 else 0
    return clean[:at] + a.discard(DANGEROUS) + clean[at:]


def _parses_with_os_system_global(data: bytes) -> bool:
    """True when pickletools reads ``data`` to STOP and meets GLOBAL 'os system' on the way."""
    seen = False
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name == "PROTO" and arg > pickle.HIGHEST_PROTOCOL:
                return False  # pickle refuses the stream at this opcode, before any import
            seen = seen or (op.name == "GLOBAL" and arg == "os system")
    except Exception:  # any parse failure: not a well-formed malicious pickle
        return False
    return seen


@PROPS
@given(PLAIN, st.integers(0, 5), st.none() | MUTATIONS)
def test_parseable_pickle_with_dangerous_global_is_never_clean(
    value: Any, protocol: int, mutations: list[Mutation] | None
) -> None:
    raw = _infected(value, protocol)
    mutated = raw if mutations is None else _mutate(raw, mutations)
    assume(_parses_with_os_system_global(mutated))
    with _scanned(mutated, "model.pkl") as result:
        assert result.status in (Status.FINDINGS, Status.ERROR), describe(result)
        if result.status is Status.FINDINGS:
            assert result.max_severity is Severity.CRITICAL, describe(result)


@FEW
@given(
    st.lists(st.tuples(st.text("abcdefgh", min_size=1, max_size=8), PLAIN), max_size=3), st.data()
)
def test_payload_member_in_random_zip_is_found(
    members: list[tuple[str, Any]], data: st.DataObject
) -> None:
    entries = [
        (f"{i}/{name}.pkl", pickle.dumps(value, 2)) for i, (name, value) in enumerate(members)
    ]
    entries.insert(
        data.draw(st.integers(0, len(entries))), ("evil/payload.bin", a.wrap(DANGEROUS, 2))
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=data.draw(st.sampled_from([0, 8]))) as zf:
        for name, body in entries:
            zf.writestr(name, body)
    with _scanned(out.getvalue(), "archive.zip") as result:
        located = [f.location.members for f in result.findings if f.severity is Severity.CRITICAL]
        assert ("evil/payload.bin",) in located, describe(result)


# -- never imports -----------------------------------------------------------------------

GLOBAL_FORMS: dict[str, Callable[[str, str], bytes]] = {
    "GLOBAL": lambda m, n: a.wrap(a.call(a.glob(m, n)), 2),
    "STACK_GLOBAL": lambda m, n: a.wrap(a.call(a.stack_global(m, n)), 4),
    "INST": lambda m, n: pickle.MARK + pickle.INST + f"{m}\n{n}\n".encode() + pickle.STOP,
    "dotted": lambda m, n: a.wrap(a.call(a.stack_global(m, f"{n}.__call__")), 4),
    "in-zip": lambda m, n: _zipped(a.wrap(a.call(a.glob(m, n)), 2)),
}


def _zipped(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("archive/data.pkl", data)
    return out.getvalue()


@pytest.mark.parametrize("form", sorted(GLOBAL_FORMS))
def test_scanner_never_imports_the_named_module(
    form: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The module exists and is importable; importing it would leave a trace file."""
    module = f"bastion_canary_mod_{uuid.uuid4().hex}"
    trace = tmp_path / "IMPORTED"
    src = tmp_path / "pythonpath"
    src.mkdir()
    (src / f"{module}.py").write_text(f"open({str(trace)!r}, 'w').close()\ndef run():\n    pass\n")
    monkeypatch.syspath_prepend(str(src))
    target = tmp_path / "model.pkl"
    target.write_bytes(GLOBAL_FORMS[form](module, "run"))
    result = scan_path(target, workers=1).files[0]
    assert module not in sys.modules
    assert not trace.exists()
    assert result.status in (Status.FINDINGS, Status.ERROR), describe(result)
    assert (result.max_severity or Severity.INFO) >= Severity.MEDIUM, describe(result)
