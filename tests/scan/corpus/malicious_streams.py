"""Where the pickle sits: later in a stream, behind junk or a PNG, in text, across
frames, compressed; and damaged streams that must come out as findings or errors."""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import pickle
import struct
import zlib

from . import _asm as a
from ._payloads import Registry, dumps, os_system, payload_pickle, reduce_object, write
from ._types import Built, Case, Ctx, Live

_reg = Registry()
case = _reg.case
SYSTEM = "os.system|posix.system"


# -- stream layout: where in the file the pickle sits --------------------------------

_PNG = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + bytes(13) + b"\0\0\0\0"


@case("second-pickle-in-stream", critical=("os.system",), located=True)
def second_pickle(c: Ctx) -> Built:
    first = dumps({"weights": [1.0, 2.0], "name": "ok"}, 2)
    return write(c, "stream.pkl", first + payload_pickle(c), offset=len(first))


@case("junk-prefix", critical=("os.system",), located=True)
def junk_prefix(c: Ctx) -> Built:
    junk = b"BASTIONJUNK\x00\xff\xfe" * 5
    live = Live("pickle", offset=len(junk))
    return write(c, "junk.bin", junk + payload_pickle(c), offset=len(junk), live=live)


@case("png-polyglot", critical=("os.system",), located=True)
def png_polyglot(c: Ctx) -> Built:
    head = _PNG + struct.pack(">I", 0) + b"IEND" + b"\xae\x42\x60\x82"
    live = Live("pickle", offset=len(head))
    return write(c, "image.png", head + payload_pickle(c), offset=len(head), live=live)


def _p0_payload(c: Ctx, module: str) -> bytes:
    body = a.glob(module, "system") + pickle.MARK + a.text_str(c.shell) + pickle.TUPLE
    return body + pickle.REDUCE + pickle.STOP


@case("text-file-is-p0-pickle", critical=("posix.system",))
def text_p0(c: Ctx) -> Built:
    """A .txt file whose whole content is an ASCII protocol 0 pickle."""
    return write(c, "notes.txt", _p0_payload(c, "posix"))


@case("text-prefix-then-p0-pickle", critical=("os.system",), located=True)
def text_prefix(c: Ctx) -> Built:
    """A README-looking .txt with an ASCII protocol 0 pickle after the prose."""
    prose = b"Model card\n==========\n\nWeights for a tiny classifier. Load with care.\n\n"
    live = Live("pickle", offset=len(prose))
    return write(c, "README.txt", prose + _p0_payload(c, "os"), offset=len(prose), live=live)


@case("frames-split-payload", critical=("os.system",))
def frames(c: Ctx) -> Built:
    """Protocol 4 with the GLOBAL and the call in two separate FRAMEs."""
    one = a.frame(a.stack_global("os", "system"))
    two = a.frame(a.tup(a.ustr(c.shell)) + pickle.REDUCE + pickle.STOP)
    return write(c, "frames.pkl", a.proto(4) + one + two)


# -- damaged streams -------------------------------------------------------------------


@case("truncated-after-global", critical=("os.system",), error_ok=True)
def truncated_payload(c: Ctx) -> Built:
    """Cut in the middle of the command string, after the GLOBAL."""
    data = payload_pickle(c)
    return write(c, "truncated.pkl", data[: data.index(b"touch") + 3], live=None)


@case("truncated-mid-global", error_ok=True)
def truncated_global(c: Ctx) -> Built:
    return write(c, "truncated_global.pkl", a.proto(2) + b"cos\nsys", live=None)


@case("absurd-string-length", critical=("os.system",), error_ok=True)
def absurd_length(c: Ctx) -> Built:
    """BINUNICODE8 claiming 2**62 bytes after a dangerous GLOBAL."""
    bogus = pickle.BINUNICODE8 + struct.pack("<Q", 1 << 62) + b"touch"
    body = a.proto(4) + a.glob("os", "system") + pickle.MARK + bogus
    return write(c, "absurd.pkl", body, live=None)


@case("long-benign-prefix-then-payload", critical=("os.system",), error_ok=True)
def long_prefix(c: Ctx) -> Built:
    """200k list items before the payload: a scanner with an opcode budget must not say CLEAN."""
    items = a.integer(7) * 200_000
    body = pickle.EMPTY_LIST + pickle.MARK + items + pickle.APPENDS + pickle.POP
    return write(c, "long.pkl", a.wrap(body + os_system(c), 2))


@case("gzip-compressed-pickle", critical=("os.system",))
def gzip_pickle(c: Ctx) -> Built:
    """A .pkl.gz, as pandas.read_pickle and many loaders decompress transparently."""
    data = gzip.compress(payload_pickle(c))
    return write(c, "frame.pkl.gz", data, live=Live("pickle", codec="gzip"))


@case("gzip-multi-member", critical=("os.system",))
def gzip_multi(c: Ctx) -> Built:
    """Two gzip members: a harmless pickle, then the payload; gzip readers join them."""
    first = gzip.compress(dumps({"ok": True}, 2))
    data = first + gzip.compress(payload_pickle(c))
    return write(c, "multi.pkl.gz", data, live=Live("pickle", codec="gzip"))


@case("bz2-multi-stream", critical=("os.system",))
def bz2_multi(c: Ctx) -> Built:
    first = bz2.compress(dumps([1, 2, 3], 2))
    data = first + bz2.compress(payload_pickle(c))
    return write(c, "multi.pkl.bz2", data, live=Live("pickle", codec="bz2"))


@case("xz-multi-stream", critical=("os.system",))
def xz_multi(c: Ctx) -> Built:
    first = lzma.compress(dumps({"vocab": ["a"]}, 4))
    data = first + lzma.compress(payload_pickle(c))
    return write(c, "multi.pkl.xz", data, live=Live("pickle", codec="lzma"))


@case("rot13-names-via-allowlisted-codecs", rules=("pickle.",))
def rot13(c: Ctx) -> Built:
    """STACK_GLOBAL operands computed by _codecs.encode('bf', 'rot13') -> 'os' (allowlisted)."""

    def decoded(text: str) -> a.Obj:
        return a.call(
            a.glob("_codecs", "encode"), a.ustr(codecs.encode(text, "rot13")), a.ustr("rot13")
        )

    func = decoded("os") + decoded("system") + pickle.STACK_GLOBAL
    return write(c, "rot13.pkl", a.wrap(func + a.tup(a.ustr(c.shell)) + pickle.REDUCE, 4))


@case("leading-noise-opcodes", critical=("os.system",))
def leading_noise(c: Ctx) -> Built:
    """Protocol 0 starting with NONE/POP pairs: no PROTO, no GLOBAL in the first bytes."""
    return write(c, "noise.pkl", b"N0" * 40 + _p0_payload(c, "os"))


@case("p0-pickler-dict-start", critical=(SYSTEM,))
def p0_dict(c: Ctx) -> Built:
    """pickle.dumps(protocol=0) of a dict: the stream starts '(dp0'."""
    return write(c, "p0_dict.pkl", dumps({"lr": 0.1, "hook": reduce_object(c)}, 0))


@case("p1-pickler-dict-start", critical=(SYSTEM,))
def p1_dict(c: Ctx) -> Built:
    """pickle.dumps(protocol=1) of a dict: the stream starts with EMPTY_DICT."""
    return write(c, "p1_dict.pkl", dumps({"lr": 0.1, "hook": reduce_object(c)}, 1))


@case("payload-then-no-stop", critical=("os.system",))
def no_stop(c: Ctx) -> Built:
    """The call runs, then the stream ends without STOP: the loader fails only afterwards."""
    return write(c, "no_stop.pkl", payload_pickle(c)[:-1])


@case("decoy-pickle-starts-before-payload", critical=("os.system",), error_ok=True)
def decoys(c: Ctx) -> Built:
    """100k bogus PROTO openings ahead of the real pickle: a bounded search must end in a
    finding or an error, never in CLEAN."""
    junk = b"JUNK" + b"\x80\x02N" * 100_000
    live = Live("pickle", offset=len(junk))
    return write(c, "decoys.bin", junk + payload_pickle(c), live=live)


@case("gzip-every-header-field", critical=("os.system",))
def gzip_fields(c: Ctx) -> Built:
    """FEXTRA, FNAME, FCOMMENT and FHCRC all set: the header is no longer 10 bytes."""
    head = b"\x1f\x8b\x08\x1e" + bytes(5) + b"\xff"
    head += struct.pack("<H", 5) + b"EXTRA" + b"weights.pkl\0" + b"trained model\0"
    head += struct.pack("<H", zlib.crc32(head) & 0xFFFF)
    data = payload_pickle(c)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = deflate.compress(data) + deflate.flush()
    trailer = struct.pack("<II", zlib.crc32(data), len(data))
    return write(c, "fields.pkl.gz", head + body + trailer, live=Live("pickle", codec="gzip"))


STREAM_CASES: list[Case] = _reg.cases
