"""The malicious corpus: one small builder per technique, registered with its id.

Builders write into ``ctx.dir`` at test time; nothing binary is committed. Every payload,
if it ever ran, would leave a trace the tests look for (``ctx.trace`` created, the
``ctx.env`` variable set, ``ctx.keep`` deleted, a connection to ``ctx.port``).
Where the pickle sits in a stream (``malicious_streams.py``), gadgets behind names a
denylist may not know (``malicious_gadgets.py``), container formats (``malicious_formats.py``)
and archive edge cases (``malicious_archives.py``) live beside this file; ``CASES`` joins all.
"""

from __future__ import annotations

import os
import pickle
import subprocess

from . import _asm as a
from ._payloads import Reduce, Registry, dumps, write
from ._types import Built, Case, Ctx, Live
from .malicious_archives import ARCHIVE_CASES
from .malicious_callables import CALLABLE_CASES
from .malicious_formats import FORMAT_CASES
from .malicious_gadgets import GADGET_CASES
from .malicious_streams import STREAM_CASES

_reg = Registry()
case = _reg.case
SYSTEM = "os.system|posix.system"  # os.system pickles as posix.system on Linux

# -- protocols and the basic call opcodes ------------------------------------------


@case("p0-ascii-global-reduce", critical=("os.system",))
def p0_ascii(c: Ctx) -> Built:
    """Protocol 0, pure ASCII: GLOBAL, MARK, UNICODE, TUPLE, REDUCE."""
    body = a.glob("os", "system") + pickle.MARK + a.text_str(c.shell) + pickle.TUPLE
    return write(c, "p0.pkl", body + pickle.REDUCE + pickle.STOP)


@case("p1-binary-posix-system", critical=("posix.system",))
def p1_binary(c: Ctx) -> Built:
    """Protocol 1 (no PROTO opcode), SHORT_BINSTRING argument."""
    raw = c.shell.encode()
    arg = pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw
    return write(c, "p1.pkl", a.call(a.glob("posix", "system"), arg) + pickle.STOP)


@case("p2-subprocess-popen", critical=("subprocess.Popen",))
def p2_popen(c: Ctx) -> Built:
    argv = a.lst(*(a.ustr(x) for x in c.argv))
    return write(c, "p2.pkl", a.wrap(a.call(a.glob("subprocess", "Popen"), argv), 2))


@case("p3-pickler-check-output", critical=("subprocess.check_output",))
def p3_pickler(c: Ctx) -> Built:
    """pickle.dumps(protocol=3) of an object whose __reduce__ is the payload; .ckpt name."""
    return write(c, "weights.ckpt", dumps(Reduce(subprocess.check_output, c.argv), 3))


@case("p4-pickler-stack-global-frame", critical=(SYSTEM,))
def p4_pickler(c: Ctx) -> Built:
    """pickle.dumps(protocol=4): FRAME, STACK_GLOBAL, MEMOIZE; .bin name."""
    return write(c, "model.bin", dumps(Reduce(os.system, c.shell), 4))


@case("p5-pickler-exec", critical=("builtins.exec",))
def p5_pickler(c: Ctx) -> Built:
    """pickle.dumps(protocol=5) calling builtins.exec; a file with no extension."""
    return write(c, "payload", dumps(Reduce(exec, c.code), 5))


# -- STACK_GLOBAL operands from the memo -------------------------------------------


def _memo_call(
    c: Ctx, module: str, name: str, put: bytes, get: bytes, put2: bytes, get2: bytes
) -> bytes:
    store = a.ustr(module) + put + pickle.POP + a.ustr(name) + put2 + pickle.POP
    return a.wrap(
        store + get + get2 + pickle.STACK_GLOBAL + a.tup(a.ustr(c.shell)) + pickle.REDUCE, 4
    )


@case("stack-global-binput-binget", critical=("os.system",))
def sg_binget(c: Ctx) -> Built:
    data = _memo_call(c, "os", "system", a.binput(0), a.binget(0), a.binput(1), a.binget(1))
    return write(c, "sg_binget.pkl", data)


@case("stack-global-long-binput-binget", critical=("os.system",))
def sg_long_binget(c: Ctx) -> Built:
    put, put2 = a.long_binput(70_000), a.long_binput(70_001)
    data = _memo_call(c, "os", "system", put, a.long_binget(70_000), put2, a.long_binget(70_001))
    return write(c, "sg_long.pkl", data)


@case("stack-global-put-get", critical=("posix.system",))
def sg_put_get(c: Ctx) -> Built:
    """Text PUT/GET memo opcodes feeding a protocol 4 STACK_GLOBAL."""
    data = _memo_call(c, "posix", "system", a.put(5), a.get(5), a.put(6), a.get(6))
    return write(c, "sg_put.pkl", data)


@case("stack-global-memoize", critical=("subprocess.getoutput",))
def sg_memoize(c: Ctx) -> Built:
    m = pickle.MEMOIZE
    data = _memo_call(c, "subprocess", "getoutput", m, a.binget(0), m, a.binget(1))
    return write(c, "sg_memoize.pkl", data)


@case("memo-slot-overwritten", critical=("os.system",))
def memo_overwrite(c: Ctx) -> Built:
    """Slots 0/1 first hold 'collections'/'OrderedDict', then are re-PUT with 'os'/'system'."""
    first = a.ustr("collections") + a.binput(0) + a.ustr("OrderedDict") + a.binput(1)
    first += pickle.STACK_GLOBAL + pickle.EMPTY_TUPLE + pickle.REDUCE + pickle.POP
    second = a.ustr("os") + a.binput(0) + a.ustr("system") + a.binput(1) + pickle.POP + pickle.POP
    call = a.binget(0) + a.binget(1) + pickle.STACK_GLOBAL + a.tup(a.ustr(c.shell)) + pickle.REDUCE
    return write(c, "memo_overwrite.pkl", a.wrap(first + second + call, 4))


@case("stack-global-computed-module", rules=("pickle.",))
def sg_computed(c: Ctx) -> Built:
    """The module operand of STACK_GLOBAL is the result of a call, not a literal."""
    module = a.call(a.glob("builtins", "str"), a.ustr("os"))
    body = module + a.ustr("system") + pickle.STACK_GLOBAL + a.tup(a.ustr(c.shell)) + pickle.REDUCE
    return write(c, "sg_computed.pkl", a.wrap(body, 4))


@case("huge-memo-index", critical=("os.system",))
def huge_memo(c: Ctx) -> Built:
    """Memo indices near 2**32: a scanner must not allocate a list that long."""
    idx = 0xFFFF_FFF0
    data = _memo_call(
        c,
        "os",
        "system",
        a.long_binput(idx),
        a.long_binget(idx),
        a.long_binput(idx + 1),
        a.long_binget(idx + 1),
    )
    return write(c, "huge_memo.pkl", data, live=None)


# -- other calling opcodes -----------------------------------------------------------


@case("inst-opcode", critical=("os.system",))
def inst(c: Ctx) -> Built:
    """Protocol 0 INST: MARK args 'i' module name -> module.name(*args)."""
    body = pickle.MARK + a.text_str(c.shell) + pickle.INST + b"os\nsystem\n"
    return write(c, "inst.pkl", body + pickle.STOP)


@case("obj-opcode", critical=("os.popen",))
def obj(c: Ctx) -> Built:
    """Protocol 1 OBJ: MARK callable args 'o'."""
    body = pickle.MARK + a.glob("os", "popen") + a.ustr(c.shell) + pickle.OBJ
    return write(c, "obj.pkl", body + pickle.STOP)


@case("newobj-partial", critical=("functools.partial", "os.system"))
def newobj(c: Ctx) -> Built:
    """NEWOBJ builds functools.partial(os.system, cmd); REDUCE then calls it."""
    args = a.tup(a.glob("os", "system"), a.ustr(c.shell))
    body = a.glob("functools", "partial") + args + pickle.NEWOBJ
    return write(c, "newobj.pkl", a.wrap(body + pickle.EMPTY_TUPLE + pickle.REDUCE, 2))


@case("newobj-ex-partial", critical=("functools.partial", "posix.system"))
def newobj_ex(c: Ctx) -> Built:
    args = a.tup(a.stack_global("posix", "system"), a.ustr(c.shell))
    body = a.stack_global("functools", "partial") + args + pickle.EMPTY_DICT + pickle.NEWOBJ_EX
    return write(c, "newobj_ex.pkl", a.wrap(body + pickle.EMPTY_TUPLE + pickle.REDUCE, 4))


@case("build-setstate-gadget", critical=("os.system",))
def build_setstate(c: Ctx) -> Built:
    """BUILD puts __setstate__=os.system in an instance dict; a second BUILD calls it."""
    inst = a.call(a.glob("collections", "OrderedDict"))
    state = a.dct([(a.ustr("__setstate__"), a.glob("os", "system"))])
    body = inst + state + pickle.BUILD + a.ustr(c.shell) + pickle.BUILD
    return write(c, "build_gadget.pkl", a.wrap(body, 2))


@case("build-on-class", critical=("os.system",))
def build_class(c: Ctx) -> Built:
    """BUILD on a class global (slot state -> setattr) monkeypatches __setstate__."""
    cls = a.glob("argparse", "Namespace")
    slots = a.dct([(a.ustr("__setstate__"), a.glob("os", "system"))])
    patch = cls + pickle.NONE + slots + pickle.TUPLE2 + pickle.BUILD + pickle.POP
    trigger = a.call(cls) + a.ustr(c.shell) + pickle.BUILD
    return write(c, "build_class.pkl", a.wrap(patch + trigger, 2))


@case("copyreg-reconstructor-trampoline", critical=("subprocess.Popen",))
def reconstructor(c: Ctx) -> Built:
    """copyreg._reconstructor(Popen, Popen, argv) runs Popen.__init__(argv)."""
    popen = a.glob("subprocess", "Popen")
    argv = a.lst(*(a.ustr(x) for x in c.argv))
    body = a.call(a.glob("copyreg", "_reconstructor"), popen, popen, argv)
    return write(c, "reconstructor.pkl", a.wrap(body, 2))


def _ext_case(c: Ctx, name: str, module: str, attr: str, code: int) -> Built:
    body = a.ext(code) + a.tup(a.ustr(c.shell)) + pickle.REDUCE
    live = Live("pickle", extensions=((module, attr, code),))
    return write(c, name, a.wrap(body, 2), live=live)


@case("ext1-extension-code", rules=("pickle.",))
def ext1(c: Ctx) -> Built:
    """EXT1: the callable comes from copyreg's extension registry, not a GLOBAL."""
    return _ext_case(c, "ext1.pkl", "os", "system", 0xE1)


@case("ext2-extension-code", rules=("pickle.",))
def ext2(c: Ctx) -> Built:
    return _ext_case(c, "ext2.pkl", "posix", "system", 0x1E1E)


@case("ext4-extension-code", rules=("pickle.",))
def ext4(c: Ctx) -> Built:
    return _ext_case(c, "ext4.pkl", "subprocess", "getoutput", 0x7FFF_0001)


@case("persid-argument", critical=("os.system",))
def persid(c: Ctx) -> Built:
    """PERSID supplies the command (a loader's persistent_load returns it)."""
    body = a.glob("os", "system") + pickle.MARK + pickle.PERSID + c.shell.encode() + b"\n"
    return write(c, "persid.pkl", body + pickle.TUPLE + pickle.REDUCE + pickle.STOP)


@case("binpersid-payload", critical=("os.spawnlp",))
def binpersid(c: Ctx) -> Built:
    """The persistent id given to BINPERSID is itself computed by a dangerous call."""
    call = a.call(a.glob("os", "spawnlp"), a.integer(0), *(a.ustr(x) for x in ["touch", *c.argv]))
    return write(c, "binpersid.pkl", a.wrap(call + pickle.BINPERSID, 2))


PICKLE_CASES: list[Case] = [*_reg.cases, *CALLABLE_CASES]
CASES: list[Case] = [*PICKLE_CASES, *STREAM_CASES, *GADGET_CASES, *FORMAT_CASES, *ARCHIVE_CASES]
IDS: list[str] = [c.id for c in CASES]
