"""A tiny pickle assembler: opcodes written by hand, so the corpus controls every byte.

Each helper returns the bytes of one construct. ``call`` builds ``callable(*args)`` with
MARK/TUPLE/REDUCE, which every protocol understands; the others are named after the
opcode they emit. Nothing here ever unpickles anything.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import Iterable

Obj = bytes  # the bytes that push one object on the unpickler's stack


def proto(n: int) -> bytes:
    return pickle.PROTO + bytes([n])


def wrap(body: bytes, protocol: int = 2) -> bytes:
    """A whole pickle: PROTO (from protocol 2 on), the body, STOP."""
    head = proto(protocol) if protocol >= 2 else b""
    return head + body + pickle.STOP


def glob(module: str, name: str) -> Obj:
    """GLOBAL: ``c<module>\\n<name>\\n`` (every protocol)."""
    return pickle.GLOBAL + module.encode() + b"\n" + name.encode() + b"\n"


def ustr(text: str) -> Obj:
    """A str: SHORT_BINUNICODE or BINUNICODE (protocol 1+ unpicklers accept both)."""
    raw = text.encode()
    if len(raw) < 256:
        return pickle.SHORT_BINUNICODE + bytes([len(raw)]) + raw
    return pickle.BINUNICODE + struct.pack("<I", len(raw)) + raw


def text_str(text: str) -> Obj:
    """A protocol 0 str: ``V<raw-unicode-escaped>\\n``."""
    return pickle.UNICODE + text.encode("raw_unicode_escape") + b"\n"


def ubytes(data: bytes) -> Obj:
    return pickle.BINBYTES + struct.pack("<I", len(data)) + data


def integer(n: int) -> Obj:
    if 0 <= n < 256:
        return pickle.BININT1 + bytes([n])
    return pickle.BININT + struct.pack("<i", n)


def stack_global(module: str, name: str) -> Obj:
    """STACK_GLOBAL with both operands pushed as literal strings (protocol 4+)."""
    return ustr(module) + ustr(name) + pickle.STACK_GLOBAL


def tup(*items: Obj) -> Obj:
    return pickle.MARK + b"".join(items) + pickle.TUPLE


def lst(*items: Obj) -> Obj:
    return pickle.MARK + b"".join(items) + pickle.LIST


def dct(pairs: Iterable[tuple[Obj, Obj]]) -> Obj:
    return pickle.MARK + b"".join(k + v for k, v in pairs) + pickle.DICT


def call(func: Obj, *args: Obj) -> Obj:
    """``func(*args)`` through REDUCE."""
    return func + tup(*args) + pickle.REDUCE


def binput(idx: int) -> bytes:
    return pickle.BINPUT + bytes([idx])


def binget(idx: int) -> bytes:
    return pickle.BINGET + bytes([idx])


def long_binput(idx: int) -> bytes:
    return pickle.LONG_BINPUT + struct.pack("<I", idx)


def long_binget(idx: int) -> bytes:
    return pickle.LONG_BINGET + struct.pack("<I", idx)


def put(idx: int) -> bytes:
    return pickle.PUT + str(idx).encode() + b"\n"


def get(idx: int) -> bytes:
    return pickle.GET + str(idx).encode() + b"\n"


def frame(body: bytes) -> bytes:
    return pickle.FRAME + struct.pack("<Q", len(body)) + body


def ext(code: int) -> bytes:
    """EXT1/EXT2/EXT4, whichever is the shortest for ``code``."""
    if code < 0x100:
        return pickle.EXT1 + bytes([code])
    if code < 0x10000:
        return pickle.EXT2 + struct.pack("<H", code)
    return pickle.EXT4 + struct.pack("<i", code)


def discard(obj: Obj) -> bytes:
    """Evaluate ``obj`` for its side effect and drop it."""
    return obj + pickle.POP
