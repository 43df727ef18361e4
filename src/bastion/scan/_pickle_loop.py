"""The opcode loop of the symbolic pickle machine (see ``_pickle_vm`` for the design).

Opcodes are tested most-frequent first. Values: ``None`` is opaque, ``bytes`` is a
short *text* string (UTF-8, not yet decoded), ints and bools are themselves, and the
classes and markers of ``_pickle_vm`` stand for imports, call results and unknowns.

Like CPython's ``_pickle``, the stack is one flat list with a list of mark positions
(a "fence" below which no opcode may pop), and the memo is a dense prefix of indices
``0 .. dense-1`` plus a small set of sparse ones; only non-opaque values are stored.
State lives in local variables because attribute access per opcode costs ~20 %.
"""

from __future__ import annotations

import re
from functools import cache

from bastion.errors import LimitExceeded
from bastion.scan._pickle_vm import (
    EXTENSION,
    LONG_STRING,
    MAX_LINE,
    MAX_STR,
    PERSISTENT,
    SCANNED_BLOB,
    SKIP_STRINGS_ABOVE,
    Called,
    Global,
    Machine,
    Malformed,
    Reader,
    Skip,
    Truncated,
    decode_protocol0_string,
    decode_text,
    fix_import,
)

#: Bytes of fixed argument (or of the length prefix) after each opcode.
FIXED = dict.fromkeys(range(256), 0)
FIXED.update({ord(c): 1 for c in "KhqCU"})
FIXED.update({0x80: 1, 0x82: 1, 0x8A: 1, 0x8C: 1, ord("M"): 2, 0x83: 2})
FIXED.update({ord(c): 4 for c in "JjrXTB"})
FIXED.update({0x84: 4, 0x8B: 4, ord("G"): 8, 0x8D: 8, 0x8E: 8, 0x95: 8, 0x96: 8})

# find_class accepts any string and fails at import time; so do we (no spaces or controls).
_NAME = re.compile(rb"[^\x00-\x20\x7f]{1,512}")
_SIZED = frozenset({0x8D, 0x58, 0x54, 0x42, 0x43, 0x8E, 0x96, 0x8A, 0x8B})
_TEXT = frozenset({0x8D, 0x58, 0x54})
_TEXT_LINE = frozenset(b"ILFSVgp")
MAX_MARK_DEPTH = 100_000
MAX_SPARSE = 1_000_000


class _Underflow(Exception):
    pass


def run_one(m: Machine) -> int:
    """Execute one pickle from the reader's position; return the offset of its STOP."""
    r = m.r
    sink = m.sink
    cap = m.max_memo
    memo: dict[int, object] = {}
    sparse: set[int] = set()
    dense = 0
    stack: list[object] = [None] * 8 if m.lenient else []
    push = stack.append
    marks: list[int] = []
    fence = 0
    track_dicts = m.track_dicts
    buf = r.buf
    pos = r.pos
    lim = len(buf) - 16
    start_offset = r.base + pos
    op = 0
    try:
        while True:
            if pos > lim:
                if len(stack) > m.max_stack:
                    raise LimitExceeded(f"pickle stack deeper than {m.max_stack} values")
                pos = r.fill(pos, 16)
                buf = r.buf
                lim = len(buf) - 16
                if r.eof:
                    lim = pos  # every opcode from here to the end is checked
                    if pos >= len(buf):
                        raise Truncated(f"stream ends at offset {r.base + pos} before STOP")
                    if pos + 1 + FIXED[buf[pos]] > len(buf):
                        raise Truncated(f"stream ends inside the opcode at {r.base + pos}")
            op = buf[pos]
            # --- the frequent, data-only opcodes ---
            if op == 0x94:  # MEMOIZE
                if len(stack) <= fence:
                    raise _Underflow
                value = stack[-1]
                if sparse:
                    dense = _put(memo, sparse, dense, dense + len(sparse), value, cap)
                else:
                    if (
                        value is not None
                        and len(memo) < cap
                        and (type(value) is bytes or _retained(value))
                    ):
                        memo[dense] = value
                    dense += 1
                pos += 1
            elif op == 0x8C or op == 0x55:  # SHORT_BINUNICODE, SHORT_BINSTRING
                end = pos + 2 + buf[pos + 1]
                if end > len(buf):
                    pos = r.fill(pos, end - pos)
                    buf = r.buf
                    lim = len(buf) - 16
                    end = pos + 2 + buf[pos + 1]
                    if end > len(buf):
                        raise Truncated(f"stream ends inside a string at {r.base + pos}")
                push(buf[pos + 2 : end])
                pos = end
            elif op == 0x58 and buf[pos + 3] == 0 and buf[pos + 4] == 0 and buf[pos + 5] < 0x50:
                # BINUNICODE under 64 KiB: protocols 1-3 write every string with it (those
                # starting with "P" or "\xc2" may be a zip or pickle in latin-1: slow path)
                end = pos + 5 + (buf[pos + 1] | buf[pos + 2] << 8)
                if end > len(buf):
                    pos = r.fill(pos, end - pos)
                    buf = r.buf
                    lim = len(buf) - 16
                    end = pos + 5 + (buf[pos + 1] | buf[pos + 2] << 8)
                    if end > len(buf):
                        raise Truncated(f"stream ends inside a string at {r.base + pos}")
                push(buf[pos + 5 : end] if end - pos <= MAX_STR + 5 else LONG_STRING)
                pos = end
            elif op == 0x68:  # BINGET
                idx = buf[pos + 1]
                value = memo.get(idx)
                if value is None and idx >= dense and idx not in sparse:
                    _missing(m, idx, r.base + pos)
                push(value)
                pos += 2
            elif op == 0x4B:  # BININT1
                push(buf[pos + 1])
                pos += 2
            elif op == 0x71:  # BINPUT
                if len(stack) <= fence:
                    raise _Underflow
                dense = _put(memo, sparse, dense, buf[pos + 1], stack[-1], cap)
                pos += 2
            elif op == 0x28:  # MARK
                if len(marks) >= MAX_MARK_DEPTH:
                    raise LimitExceeded(f"more than {MAX_MARK_DEPTH} nested MARKs")
                fence = len(stack)
                marks.append(fence)
                pos += 1
            elif op == 0x47 or op == 0x4E:  # BINFLOAT, NONE
                push(None)
                pos += 9 if op == 0x47 else 1
            elif op == 0x4A:  # BININT
                push(int.from_bytes(buf[pos + 1 : pos + 5], "little", signed=True))
                pos += 5
            elif op == 0x4D:  # BININT2
                push(buf[pos + 1] | buf[pos + 2] << 8)
                pos += 3
            elif op == 0x65 or op == 0x75 or op == 0x90:  # APPENDS, SETITEMS, ADDITEMS
                if not marks:
                    raise _Underflow
                k = marks.pop()
                fence = marks[-1] if marks else 0
                if k <= fence:
                    raise Malformed(f"no container under the items at {r.base + pos}")
                if op == 0x75 and type(stack[k - 1]) is dict:
                    _setitems(stack[k - 1], stack[k:])  # type: ignore[arg-type]
                del stack[k:]
                pos += 1
            elif op == 0x7D:  # EMPTY_DICT: kept only where joblib needs an object's state
                push({} if track_dicts else None)
                pos += 1
            elif op == 0x5D or op == 0x29 or op == 0x8F:  # EMPTY_LIST, EMPTY_TUPLE, EMPTY_SET
                push(None)
                pos += 1
            elif op == 0x88 or op == 0x89:  # NEWTRUE, NEWFALSE
                push(op == 0x88)
                pos += 1
            elif op == 0x86:  # TUPLE2
                if len(stack) < fence + 2:
                    raise _Underflow
                second = stack.pop()
                first = stack[-1]
                stack[-1] = (first, second) if first is not None or second is not None else None
                pos += 1
            elif op == 0x85:  # TUPLE1
                if len(stack) <= fence:
                    raise _Underflow
                if stack[-1] is not None:
                    stack[-1] = (stack[-1],)
                pos += 1
            elif op == 0x87:  # TUPLE3
                if len(stack) < fence + 3:
                    raise _Underflow
                stack[-3:] = [_tuple(tuple(stack[-3:]))]
                pos += 1
            elif op == 0x74 or op == 0x6C or op == 0x64 or op == 0x91:
                # TUPLE, LIST, DICT, FROZENSET: the items since the last MARK
                if not marks:
                    raise _Underflow
                k = marks.pop()
                fence = marks[-1] if marks else 0
                value = _tuple(tuple(stack[k:])) if op == 0x74 else None
                del stack[k:]
                push(value)
                pos += 1
            elif op == 0x61:  # APPEND
                if len(stack) < fence + 2:
                    raise _Underflow
                stack.pop()
                pos += 1
            elif op == 0x73:  # SETITEM
                if len(stack) < fence + 3:
                    raise _Underflow
                if type(stack[-3]) is dict:
                    _setitems(stack[-3], stack[-2:])
                del stack[-2:]
                pos += 1
            elif op == 0x72:  # LONG_BINPUT
                if len(stack) <= fence:
                    raise _Underflow
                idx = int.from_bytes(buf[pos + 1 : pos + 5], "little")
                dense = _put(memo, sparse, dense, idx, stack[-1], cap)
                pos += 5
            elif op == 0x6A:  # LONG_BINGET
                idx = int.from_bytes(buf[pos + 1 : pos + 5], "little")
                value = memo.get(idx)
                if value is None and idx >= dense and idx not in sparse:
                    _missing(m, idx, r.base + pos)
                push(value)
                pos += 5
            elif op == 0x95:  # FRAME: a size hint only
                pos += 9
            # --- strings and bytes of any length ---
            elif op in _SIZED:
                at = r.base + pos
                width = FIXED[op]
                size = int.from_bytes(buf[pos + 1 : pos + 1 + width], "little")
                if (op == 0x54 or op == 0x8B) and size >= 1 << 31:
                    raise Malformed(f"negative length at {at}")
                start = pos + 1 + width
                if size >= 8 and op != 0x8A and op != 0x8B:
                    pos = r.fill(pos, 1 + width + 8)
                    buf = r.buf
                    start = pos + 1 + width
                    sig = buf[start : start + 8]
                    text = op in _TEXT
                    if sig.startswith(b"PK\x03\x04") or (
                        sig[0] == 0x80 and sig[1] <= 5
                        if not text
                        else sig[0] == 0xC2 and sig[1] == 0x80 and sig[2] <= 5
                    ):
                        after = sink.on_blob(r, start, size, at, latin1=text)
                        if after is not None:
                            pos = after
                            push(SCANNED_BLOB)
                            buf = r.buf
                            lim = len(buf) - 16
                            continue
                if size > SKIP_STRINGS_ABOVE:
                    pos = r.skip(start, size)
                    push(LONG_STRING if op in _TEXT else None)
                else:
                    if start + size > len(buf):
                        pos = r.fill(pos, 1 + width + size)
                        start = pos + 1 + width
                        if start + size > len(r.buf):
                            raise Truncated(f"stream ends inside a {size}-byte string at {at}")
                    buf = r.buf
                    if op == 0x8A or op == 0x8B:  # LONG1, LONG4
                        raw = buf[start : start + size]
                        push(int.from_bytes(raw, "little", signed=True) if size <= 16 else None)
                    elif op not in _TEXT:  # bytes
                        push(None)
                    elif size > MAX_STR:
                        push(LONG_STRING)
                    else:
                        push(buf[start : start + size])
                    pos = start + size
                buf = r.buf
                lim = len(buf) - 16
            # --- opcodes that import, call or reach outside the stream ---
            elif op == 0x93:  # STACK_GLOBAL
                if len(stack) < fence + 2:
                    raise _Underflow
                at = r.base + pos
                name = decode_text(stack.pop())
                module = decode_text(stack[-1])
                if module is None or name is None:
                    stack[-1] = Global("?", "?", at)
                    sink.on_unresolved_import(at, "STACK_GLOBAL operands are not known strings")
                else:
                    stack[-1] = Global(module, name, at)
                    sink.on_import(Global(module, name, at), "STACK_GLOBAL")
                track_dicts = m.track_dicts
                pos += 1
            elif op == 0x63 or op == 0x69:  # GLOBAL, INST
                at = r.base + pos
                module_raw, pos = r.line(pos + 1)
                name_raw, pos = r.line(pos)
                buf = r.buf
                lim = len(buf) - 16
                if not _NAME.fullmatch(module_raw) or not _NAME.fullmatch(name_raw):
                    raise Malformed(f"GLOBAL/INST names are empty or hold spaces at {at}")
                try:
                    module, name = module_raw.decode(), name_raw.decode()
                except UnicodeDecodeError:
                    raise Malformed(f"GLOBAL/INST names are not UTF-8 at {at}") from None
                module, name = fix_import(module, name, m.protocol)
                g = Global(module, name, at)
                sink.on_import(g, "GLOBAL" if op == 0x63 else "INST")
                track_dicts = m.track_dicts
                if op == 0x63:
                    push(g)
                else:
                    if not marks:
                        raise _Underflow
                    k = marks.pop()
                    fence = marks[-1] if marks else 0
                    args = _tuple(tuple(stack[k:]))
                    del stack[k:]
                    sink.on_call(g, at, "INST", args)
                    push(Called(g, at, args))
            elif op == 0x52 or op == 0x81:  # REDUCE, NEWOBJ
                if len(stack) < fence + 2:
                    raise _Underflow
                at = r.base + pos
                args = stack.pop()
                func = stack[-1]
                sink.on_call(func, at, "REDUCE" if op == 0x52 else "NEWOBJ", args)
                stack[-1] = Called(func, at, args)
                pos += 1
            elif op == 0x62:  # BUILD
                if len(stack) < fence + 2:
                    raise _Underflow
                at = r.base + pos
                state = stack.pop()
                skip = sink.on_build(stack[-1], state, at)
                pos += 1
                if skip is not None:
                    pos = _skip_inline(m, pos, skip, at)
                    buf = r.buf
                    lim = len(buf) - 16
            elif op == 0x92:  # NEWOBJ_EX
                if len(stack) < fence + 3:
                    raise _Underflow
                at = r.base + pos
                del stack[-1]  # kwargs
                args = stack.pop()
                cls = stack[-1]
                sink.on_call(cls, at, "NEWOBJ_EX", args)
                stack[-1] = Called(cls, at, args)
                pos += 1
            elif op == 0x6F:  # OBJ
                if not marks:
                    raise _Underflow
                at = r.base + pos
                k = marks.pop()
                fence = marks[-1] if marks else 0
                if len(stack) <= k:
                    raise Malformed(f"OBJ without a class at {at}")
                cls = stack[k]
                args = _tuple(tuple(stack[k + 1 :]))
                del stack[k:]
                sink.on_call(cls, at, "OBJ", args)
                push(Called(cls, at, args))
                pos += 1
            elif op == 0x82 or op == 0x83 or op == 0x84:  # EXT1, EXT2, EXT4
                width = FIXED[op]
                sink.on_extension(
                    int.from_bytes(buf[pos + 1 : pos + 1 + width], "little"), r.base + pos
                )
                push(EXTENSION)
                pos += 1 + width
            elif op == 0x51:  # BINPERSID
                if len(stack) <= fence:
                    raise _Underflow
                sink.on_persistent_id(r.base + pos)
                stack[-1] = PERSISTENT
                pos += 1
            elif op == 0x50:  # PERSID
                sink.on_persistent_id(r.base + pos)
                _, pos = r.line(pos + 1)
                buf = r.buf
                lim = len(buf) - 16
                push(PERSISTENT)
            # --- stack manipulation ---
            elif op == 0x30:  # POP
                if len(stack) > fence:
                    stack.pop()
                elif marks:
                    del stack[marks.pop() :]
                    fence = marks[-1] if marks else 0
                else:
                    raise _Underflow
                pos += 1
            elif op == 0x31:  # POP_MARK
                if not marks:
                    raise _Underflow
                del stack[marks.pop() :]
                fence = marks[-1] if marks else 0
                pos += 1
            elif op == 0x32:  # DUP
                if len(stack) <= fence:
                    raise _Underflow
                push(stack[-1])
                pos += 1
            elif op == 0x2E:  # STOP
                if len(stack) <= fence:
                    raise _Underflow
                r.pos = pos + 1
                return r.base + pos
            elif op == 0x80:  # PROTO
                proto = buf[pos + 1]
                if proto > 5:
                    raise Malformed(f"unsupported pickle protocol {proto} at {r.base + pos}")
                m.protocol = proto
                pos += 2
            elif op == 0x97:  # NEXT_BUFFER
                push(None)
                pos += 1
            elif op == 0x98:  # READONLY_BUFFER
                if len(stack) <= fence:
                    raise _Underflow
                pos += 1
            # --- protocol 0 text opcodes ---
            elif op in _TEXT_LINE:
                at = r.base + pos
                value, pos = _text_opcode(r, op, pos, at, stack)
                buf = r.buf
                lim = len(buf) - 16
                if op == 0x70:  # PUT
                    if len(stack) <= fence:
                        raise _Underflow
                    dense = _put(memo, sparse, dense, value, stack[-1], cap)
                elif op == 0x67:  # GET
                    got = memo.get(value)
                    if got is None and value >= dense and value not in sparse:
                        _missing(m, value, at)
                    push(got)
            else:
                raise Malformed(f"invalid opcode 0x{op:02x} at offset {r.base + pos}")
    except (_Underflow, IndexError):
        raise Malformed(
            f"stack underflow at offset {r.base + pos} (opcode 0x{op:02x}) in the pickle "
            f"that starts at {start_offset}"
        ) from None
    finally:
        m.memo_size = dense + len(sparse)
        m.progress = r.base + pos - start_offset


def _put(
    memo: dict[int, object], sparse: set[int], dense: int, idx: int, value: object, cap: int
) -> int:
    """Define memo ``idx``; return the new dense bound."""
    if idx == dense:
        dense += 1
        while sparse and dense in sparse:
            sparse.discard(dense)
            dense += 1
    elif idx > dense and idx not in sparse:
        if len(sparse) >= MAX_SPARSE:
            raise LimitExceeded(f"more than {MAX_SPARSE} scattered memo indices")
        sparse.add(idx)
    if value is not None and (idx in memo or len(memo) < cap) and _retained(value):
        memo[idx] = value
    elif idx in memo:
        del memo[idx]
    # Past the cap a value reads back as opaque: an import fed from it is reported as
    # unresolved, never passed as clean.
    return dense


def _retained(value: object) -> bool:
    """Whether a memo value can matter later: strings, imports, calls, joblib states.
    Numbers and tuples of numbers cannot feed an import or a call, so they are dropped."""
    if type(value) is tuple:
        return any(v is not None and type(v) is not int and type(v) is not bool for v in value)
    return type(value) is not int and type(value) is not bool


def _missing(m: Machine, idx: int, at: int) -> None:
    if not m.lenient:
        raise Malformed(f"memo index {idx} read before it was written (offset {at})")


def _tuple(items: tuple[object, ...]) -> object:
    """Keep a tuple only when it holds something worth reporting."""
    if len(items) <= 16:
        for item in items:
            if item is not None:
                return items
    return None


def _text_opcode(r: Reader, op: int, pos: int, at: int, stack: list[object]) -> tuple[int, int]:
    """INT, LONG, FLOAT, STRING, UNICODE, GET, PUT: newline-terminated arguments.

    Pushes the value for the data opcodes; returns the memo index for GET and PUT.
    """
    if op in (0x53, 0x56):  # STRING, UNICODE: may be long; keep only short ones
        try:
            raw, pos = r.line(pos + 1, MAX_LINE)
        except LimitExceeded:
            pos = _skip_line(r, pos + 1)
            stack.append(LONG_STRING)
            return 0, pos
        if op == 0x53:
            value = decode_protocol0_string(raw)
        else:
            try:
                value = raw.decode("raw-unicode-escape").encode("utf-8", "surrogatepass")
            except UnicodeDecodeError as exc:
                raise Malformed(f"bad UNICODE argument at {at}: {exc}") from exc
        stack.append(value if len(value) <= MAX_STR else LONG_STRING)
        return 0, pos
    raw, pos = r.line(pos + 1)
    decimal, long, floating = _text_numbers()
    if op == 0x49 or op == 0x67 or op == 0x70:
        ok = decimal.fullmatch(raw) is not None
    elif op == 0x4C:
        ok = long.fullmatch(raw) is not None
    else:
        ok = floating.fullmatch(raw) is not None
    if not ok:
        raise Malformed(f"bad text argument {raw[:40]!r} at {at}")
    if op == 0x67 or op == 0x70:
        idx = int(raw)
        if idx < 0:
            raise Malformed(f"negative memo index at {at}")
        return idx, pos
    stack.append(int(raw.rstrip(b"L")) if op != 0x46 and len(raw) <= 20 else None)
    return 0, pos


def _skip_line(r: Reader, pos: int) -> int:
    while True:
        nl = r.buf.find(b"\n", pos)
        if nl >= 0:
            return nl + 1
        if r.eof:
            raise Truncated("stream ends inside a text argument")
        pos = r.fill(len(r.buf), 1 << 20)


def _setitems(target: dict[object, object], items: list[object]) -> None:
    """Fill a tracked dict (joblib wrapper states are small; big dicts stay opaque)."""
    if len(target) + len(items) // 2 > 64:
        return
    for i in range(0, len(items) - 1, 2):
        key = items[i]
        if isinstance(key, bytes | int | bool) or key is None:
            target[key] = items[i + 1]


def _skip_inline(m: Machine, pos: int, skip: Skip, at: int) -> int:
    """Skip raw data written into the stream after a BUILD (joblib arrays)."""
    r = m.r
    if skip.padded:
        pos = r.fill(pos, 1)
        if pos >= len(r.buf):
            raise Truncated(f"stream ends before the array data of the object at {at}")
        pos = r.skip(pos + 1, r.buf[pos])
    if skip.nested_pickle:
        r.pos = pos
        nested = Machine(r, m.sink, max_stack=m.max_stack, max_memo=m.max_memo)
        nested.track_dicts = m.track_dicts
        run_one(nested)
        return r.pos
    return r.skip(pos, skip.size)


@cache
def _text_numbers() -> tuple[re.Pattern[bytes], re.Pattern[bytes], re.Pattern[bytes]]:
    """INT/GET/PUT, LONG and FLOAT arguments of protocol 0/1 (compiled on first use)."""
    return (
        re.compile(rb"[+-]?\d{1,4300}"),
        re.compile(rb"[+-]?\d{1,4300}L?"),
        re.compile(rb"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|nan|infinity)", re.I),
    )
