"""Malicious archives: pickles inside zip/tar, and zip/tar structures that attack the reader.

Edge cases whose members are harmless (path traversal, links, a bomb) must still come out
as an ``archive.*`` finding or an ERROR; extracting them would write outside the target
folder or exhaust the disk, which is their trace.
"""

from __future__ import annotations

import io
import pickle
import stat
import struct
import tarfile
import warnings
import zipfile
import zlib

from ._payloads import Registry, payload_pickle, write
from ._types import Built, Case, Ctx, Live

_reg = Registry()
case = _reg.case
ARCHIVE = ("archive.",)
ZIP_LIVE = Live("zipfile")
TAR_LIVE = Live("tarfile")
_HARMLESS = pickle.dumps({"weights": [0.5, 0.25]}, protocol=2)


def _zip(
    *members: tuple[str | zipfile.ZipInfo, bytes], compress: int = zipfile.ZIP_STORED
) -> bytes:
    out = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(out, "w", compression=compress) as zf:
            for name, data in members:
                zf.writestr(name, data)
    return out.getvalue()


def _tar(*members: tuple[tarfile.TarInfo, bytes | None], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    return info


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


# -- pickles inside archives -----------------------------------------------------------


@case("zip-with-pickle", critical=("os.system",), located=True)
def zip_pickle(c: Ctx) -> Built:
    data = _zip(("config.json", b"{}"), ("weights/model.pkl", payload_pickle(c)))
    return write(c, "bundle.zip", data, members=("weights/model.pkl",), live=ZIP_LIVE)


@case("zip-nested-in-zip", critical=("os.system",), located=True)
def zip_in_zip(c: Ctx) -> Built:
    inner = _zip(("payload.pkl", payload_pickle(c)), compress=zipfile.ZIP_DEFLATED)
    data = _zip(("README.md", b"hello"), ("inner.zip", inner))
    return write(c, "outer.zip", data, members=("inner.zip", "payload.pkl"), live=None)


@case("tar-with-pickle", critical=("os.system",), located=True)
def tar_pickle(c: Ctx) -> Built:
    data = _tar((_file("model/payload.pkl"), payload_pickle(c)))
    return write(c, "model.tar", data, members=("model/payload.pkl",), live=TAR_LIVE)


@case("tar-gz-with-pickle", critical=("os.system",), located=True)
def tar_gz_pickle(c: Ctx) -> Built:
    data = _tar((_file("notes.txt"), b"hi"), (_file("payload.pkl"), payload_pickle(c)), mode="w:gz")
    return write(c, "model.tar.gz", data, members=("payload.pkl",), live=TAR_LIVE)


# -- zip structure attacks -------------------------------------------------------------


@case("zip-path-traversal", rules=ARCHIVE, error_ok=True, located=True)
def zip_traversal(c: Ctx) -> Built:
    return write(
        c,
        "traversal.zip",
        _zip(("../../evil.pkl", _HARMLESS)),
        members=("../../evil.pkl",),
        live=None,
    )


@case("zip-absolute-member", rules=ARCHIVE, error_ok=True, located=True)
def zip_absolute(c: Ctx) -> Built:
    info = zipfile.ZipInfo("/abs/evil.pkl")  # kept as written: only ZipFile.write() strips it
    return write(c, "absolute.zip", _zip((info, _HARMLESS)), members=("/abs/evil.pkl",), live=None)


@case("zip-duplicate-second-malicious", critical=("os.system",), located=True)
def zip_dup_second(c: Ctx) -> Built:
    data = _zip(("data.pkl", _HARMLESS), ("data.pkl", payload_pickle(c)))
    return write(c, "dup_second.zip", data, members=("data.pkl",), live=ZIP_LIVE)


@case("zip-duplicate-first-malicious", critical=("os.system",), located=True)
def zip_dup_first(c: Ctx) -> Built:
    """The payload is the *first* of two same-named members: a reader that opens by
    name gets the harmless last one."""
    data = _zip(("data.pkl", payload_pickle(c)), ("data.pkl", _HARMLESS))
    return write(c, "dup_first.zip", data, members=("data.pkl",), live=ZIP_LIVE)


@case("zip-local-central-name-mismatch", critical=("os.system",), rules=ARCHIVE, error_ok=True)
def zip_mismatch(c: Ctx) -> Built:
    """The central directory says data.pkl, the local header says evil.pkl."""
    raw = bytearray(_zip(("data.pkl", payload_pickle(c))))
    assert raw[30:38] == b"data.pkl"
    raw[30:38] = b"evil.pkl"
    return write(c, "mismatch.zip", bytes(raw), live=None)


@case("zip-encrypted-flag", critical=("os.system",), rules=ARCHIVE, error_ok=True, located=True)
def zip_encrypted(c: Ctx) -> Built:
    """General-purpose bit 0 (encrypted) set in both headers over plain pickle bytes."""
    raw = bytearray(_zip(("data.pkl", payload_pickle(c))))
    raw[6] |= 1
    central = raw.rindex(b"PK\x01\x02")
    raw[central + 8] |= 1
    return write(c, "encrypted.zip", bytes(raw), members=("data.pkl",), live=None)


@case("zip-bomb", rules=ARCHIVE, error_ok=True, located=True)
def zip_bomb(c: Ctx) -> Built:
    """One member that inflates ~1000:1 (128 MiB of zeros)."""
    info = zipfile.ZipInfo("weights.bin")
    info.compress_type = zipfile.ZIP_DEFLATED
    size = 128 << 20
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    body = b"".join(comp.compress(chunk) for _ in range(size >> 20)) + comp.flush()
    data = _raw_zip_member(info.filename, body, size, zlib.crc32(bytes(size)))
    return write(c, "bomb.zip", data, members=("weights.bin",), live=None)


def _raw_zip_member(name: str, deflated: bytes, size: int, crc: int) -> bytes:
    """A one-member zip whose member is already deflated (zipfile would inflate nothing)."""
    fname = name.encode()
    local = struct.pack(
        "<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(deflated), size, len(fname), 0
    )
    central = struct.pack(
        "<4sHHHHHHIIIHHHHHII",
        b"PK\x01\x02",
        20,
        20,
        0,
        8,
        0,
        0,
        crc,
        len(deflated),
        size,
        len(fname),
        0,
        0,
        0,
        0,
        0,
        0,
    )
    cd_offset = len(local) + len(fname) + len(deflated)
    cd = central + fname
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(cd), cd_offset, 0)
    return local + fname + deflated + cd + end


@case("zip-symlink-member", rules=ARCHIVE, error_ok=True, located=True)
def zip_symlink(c: Ctx) -> Built:
    info = zipfile.ZipInfo("model.pkl")
    info.create_system = 3  # unix, so external_attr carries st_mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return write(
        c,
        "symlink.zip",
        _zip((info, b"../../../outside/secret")),
        members=("model.pkl",),
        live=None,
    )


# -- tar structure attacks -------------------------------------------------------------


@case("tar-duplicate-first-malicious", critical=("os.system",), located=True)
def tar_dup_first(c: Ctx) -> Built:
    """tarfile.extractfile(name) returns the last of two same-named members."""
    data = _tar((_file("data.pkl"), payload_pickle(c)), (_file("data.pkl"), _HARMLESS))
    return write(c, "dup_first.tar", data, members=("data.pkl",), live=TAR_LIVE)


@case("tar-symlink-member", rules=ARCHIVE, error_ok=True, located=True)
def tar_symlink(c: Ctx) -> Built:
    data = _tar((_link("model.pkl", "../../../outside/secret", tarfile.SYMTYPE), None))
    return write(c, "symlink.tar", data, members=("model.pkl",), live=None)


@case("tar-hardlink-member", rules=ARCHIVE, error_ok=True, located=True)
def tar_hardlink(c: Ctx) -> Built:
    data = _tar((_link("weights.pkl", "../../outside/secret", tarfile.LNKTYPE), None))
    return write(c, "hardlink.tar", data, members=("weights.pkl",), live=None)


@case("tar-dotdot-member", rules=ARCHIVE, error_ok=True, located=True)
def tar_dotdot(c: Ctx) -> Built:
    data = _tar((_file("../../evil.pkl"), _HARMLESS))
    return write(c, "dotdot.tar", data, members=("../../evil.pkl",), live=None)


class _Unseekable(io.RawIOBase):
    """A write-only sink: zipfile then streams members with data descriptors (bit 3)."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        return self.buf.write(b)


@case("zip-streamed-data-descriptor", critical=("os.system",), located=True)
def zip_streamed(c: Ctx) -> Built:
    """Local headers carry no sizes; they follow the data in descriptors."""
    sink = _Unseekable()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", b"{}")
        zf.writestr("data.pkl", payload_pickle(c))
    return write(c, "streamed.zip", sink.buf.getvalue(), members=("data.pkl",), live=None)


@case("zip64-member", critical=("os.system",), located=True)
def zip64(c: Ctx) -> Built:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf, zf.open("data.pkl", "w", force_zip64=True) as f:
        f.write(payload_pickle(c))
    return write(c, "zip64.zip", out.getvalue(), members=("data.pkl",), live=ZIP_LIVE)


@case("zip-nested-deep", critical=("os.system",), rules=ARCHIVE, error_ok=True, located=True)
def zip_deep(c: Ctx) -> Built:
    """Twelve zips deep; a depth limit must surface as a finding or an error (which
    names at least the outermost member)."""
    data, name = payload_pickle(c), "payload.pkl"
    chain = [name]
    for depth in range(12):
        data, name = _zip((name, data)), f"level{depth}.zip"
        chain.insert(0, name)
    return write(c, "deep.zip", data, members=(chain[1],), live=None)


@case("zip-many-members-payload-last", critical=("os.system",), rules=ARCHIVE, error_ok=True,
      located=True)  # fmt: skip
def zip_many(c: Ctx) -> Built:
    """3000 harmless members, then the payload: a member budget must not read as CLEAN."""
    members = [(f"shard/{i:05d}.json", b"{}") for i in range(3000)]
    data = _zip(*members, ("zz/payload.pkl", payload_pickle(c)))
    return write(c, "many.zip", data, members=("zz/payload.pkl",), live=None)


ARCHIVE_CASES: list[Case] = _reg.cases
