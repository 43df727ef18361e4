"""The opcode loop of the symbolic pickle machine (see ``_pickle_vm`` for the design).

Opcodes are tested most-frequent first. Values: ``None`` is opaque, ``bytes`` is a
short *text* string (UTF-8, not yet decoded), and the classes and markers of
``_pickle_vm`` stand for imports, call results and unknowns.
"""

from __future__ import annotations

import re

from bastion.errors import LimitExceeded
from bastion.scan._pickle_vm import (
    EXTENSION,
    LONG_STRING,
    MAX_LINE,
    MAX_STR,
    PERSISTENT,
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

_DECIMAL = re.compile(rb"[+-]?\d{1,4300}")
_LONG = re.compile(rb"[+-]?\d{1,4300}L?")
_FLOAT = re.compile(rb"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|nan|infinity)", re.I)
_IDENT = re.compile(rb"[A-Za-z_][\w.]{0,511}")
MAX_MARK_DEPTH = 100_000


def _u(buf: bytes, start: int, size: int) -> int:
    return int.from_bytes(buf[start : start + size], "little")


def run_one(m: Machine) -> int:
    """Execute one pickle from the reader's position; return the offset of its STOP."""
    r = m.r
    sink = m.sink
    m.reset_memo()
    memo_put = m.memo_put
    memo_get = m.memo_get
    stack: list[object] = [None] * 8 if m.lenient else []
    metastack: list[list[object]] = []
    buf = r.buf
    pos = r.pos
    lim = len(buf) - 16
    ops = 0
    op = 0
    try:
        while True:
            if pos > lim:
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
            ops += 1
            if not ops & 0xFFFF and len(stack) + len(metastack) > m.max_stack:
                raise LimitExceeded(f"pickle stack deeper than {m.max_stack} values")
            # --- the frequent, data-only opcodes ---
            if op == 0x94:  # MEMOIZE
                memo_put(m.memo_len, stack[-1])
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
                stack.append(buf[pos + 2 : end])
                pos = end
            elif op == 0x4B:  # BININT1
                stack.append(buf[pos + 1])
                pos += 2
            elif op == 0x71:  # BINPUT
                memo_put(buf[pos + 1], stack[-1])
                pos += 2
            elif op == 0x68:  # BINGET
                stack.append(memo_get(buf[pos + 1], r.base + pos))
                pos += 2
            elif op == 0x28:  # MARK
                if len(metastack) >= MAX_MARK_DEPTH:
                    raise LimitExceeded(f"more than {MAX_MARK_DEPTH} nested MARKs")
                metastack.append(stack)
                stack = []
                pos += 1
            elif op == 0x47 or op == 0x4E:  # BINFLOAT, NONE
                stack.append(None)
                pos += 1 + FIXED[op]
            elif op == 0x4D:  # BININT2
                stack.append(buf[pos + 1] | buf[pos + 2] << 8)
                pos += 3
            elif op == 0x4A:  # BININT
                stack.append(int.from_bytes(buf[pos + 1 : pos + 5], "little", signed=True))
                pos += 5
            elif op == 0x88 or op == 0x89:  # NEWTRUE, NEWFALSE
                stack.append(op == 0x88)
                pos += 1
            elif op == 0x7D:  # EMPTY_DICT: kept only where joblib needs an object's state
                stack.append({} if m.track_dicts else None)
                pos += 1
            elif op == 0x5D or op == 0x29 or op == 0x8F:
                stack.append(None)  # EMPTY_LIST, EMPTY_TUPLE, EMPTY_SET
                pos += 1
            elif op == 0x65 or op == 0x75 or op == 0x90:  # APPENDS, SETITEMS, ADDITEMS
                items = stack
                stack = metastack.pop()
                if not stack:
                    raise Malformed(f"no container under the items at {r.base + pos}")
                if type(stack[-1]) is dict and op == 0x75:
                    _setitems(stack[-1], items)
                pos += 1
            elif op == 0x61:  # APPEND
                stack.pop()
                if not stack:
                    raise Malformed(f"APPEND without a list at {r.base + pos}")
                pos += 1
            elif op == 0x73:  # SETITEM
                if len(stack) < 3:
                    raise Malformed(f"SETITEM without a dict at {r.base + pos}")
                if type(stack[-3]) is dict:
                    _setitems(stack[-3], stack[-2:])
                del stack[-2:]
                pos += 1
            elif op == 0x85:  # TUPLE1
                stack[-1] = _tuple((stack[-1],))
                pos += 1
            elif op == 0x86:  # TUPLE2
                stack[-2:] = [_tuple((stack[-2], stack[-1]))]
                pos += 1
            elif op == 0x87:  # TUPLE3
                stack[-3:] = [_tuple((stack[-3], stack[-2], stack[-1]))]
                pos += 1
            elif op == 0x74:  # TUPLE
                items = stack
                stack = metastack.pop()
                stack.append(_tuple(tuple(items)))
                pos += 1
            elif op == 0x6C or op == 0x64 or op == 0x91:  # LIST, DICT, FROZENSET
                stack = metastack.pop()
                stack.append(None)
                pos += 1
            elif op == 0x72:  # LONG_BINPUT
                memo_put(_u(buf, pos + 1, 4), stack[-1])
                pos += 5
            elif op == 0x6A:  # LONG_BINGET
                stack.append(memo_get(_u(buf, pos + 1, 4), r.base + pos))
                pos += 5
            elif op == 0x95:  # FRAME: a size hint only
                pos += 9
            # --- strings and bytes of any length ---
            elif op in _SIZED:
                at = r.base + pos
                width = FIXED[op]
                size = _u(buf, pos + 1, width)
                if (op == 0x54 or op == 0x8B) and size >= 1 << 31:
                    raise Malformed(f"negative length at {at}")
                start = pos + 1 + width
                text = op in _TEXT
                if size > SKIP_STRINGS_ABOVE:
                    pos = r.skip(start, size)
                    stack.append(LONG_STRING if text else None)
                else:
                    if start + size > len(buf):
                        pos = r.fill(pos, 1 + width + size)
                        start = pos + 1 + width
                        if start + size > len(r.buf):
                            raise Truncated(f"stream ends inside a {size}-byte string at {at}")
                    buf = r.buf
                    if op == 0x8A or op == 0x8B:  # LONG1, LONG4
                        stack.append(
                            int.from_bytes(buf[start : start + size], "little", signed=True)
                            if size <= 16
                            else None
                        )
                    elif op == 0x43 or op == 0x42 or op >= 0x8E:  # bytes
                        stack.append(None)
                    elif size > MAX_STR:
                        stack.append(LONG_STRING)
                    else:
                        stack.append(buf[start : start + size])
                    pos = start + size
                buf = r.buf
                lim = len(buf) - 16
            # --- opcodes that import, call or reach outside the stream ---
            elif op == 0x93:  # STACK_GLOBAL
                at = r.base + pos
                name = decode_text(stack.pop())
                module = decode_text(stack[-1])
                if module is None or name is None:
                    stack[-1] = Global("?", "?", at)
                    sink.on_unresolved_import(at, "STACK_GLOBAL operands are not known strings")
                else:
                    stack[-1] = Global(module, name, at)
                    sink.on_import(Global(module, name, at), "STACK_GLOBAL")
                pos += 1
            elif op == 0x63 or op == 0x69:  # GLOBAL, INST
                at = r.base + pos
                module_raw, pos = _line(r, pos + 1)
                name_raw, pos = _line(r, pos)
                buf = r.buf
                lim = len(buf) - 16
                if not _IDENT.fullmatch(module_raw) or not _IDENT.fullmatch(name_raw):
                    raise Malformed(f"GLOBAL/INST names are not identifiers at {at}")
                module, name = fix_import(module_raw.decode(), name_raw.decode(), m.protocol)
                g = Global(module, name, at)
                sink.on_import(g, "GLOBAL" if op == 0x63 else "INST")
                if op == 0x63:
                    stack.append(g)
                else:
                    inst_items = stack
                    stack = metastack.pop()
                    inst_args = _tuple(tuple(inst_items))
                    sink.on_call(g, at, "INST", inst_args)
                    stack.append(Called(g, at, inst_args))
            elif op == 0x52:  # REDUCE
                at = r.base + pos
                args = stack.pop()
                func = stack[-1]
                sink.on_call(func, at, "REDUCE", args)
                stack[-1] = Called(func, at, args)
                pos += 1
            elif op == 0x62:  # BUILD
                at = r.base + pos
                state = stack.pop()
                skip = sink.on_build(stack[-1], state, at)
                pos += 1
                if skip is not None:
                    pos = _skip_inline(m, pos, skip, at)
                    buf = r.buf
                    lim = len(buf) - 16
            elif op == 0x81:  # NEWOBJ
                at = r.base + pos
                args = stack.pop()
                cls = stack[-1]
                sink.on_call(cls, at, "NEWOBJ", args)
                stack[-1] = Called(cls, at, args)
                pos += 1
            elif op == 0x92:  # NEWOBJ_EX
                at = r.base + pos
                del stack[-1]  # kwargs
                args = stack.pop()
                cls = stack[-1]
                sink.on_call(cls, at, "NEWOBJ_EX", args)
                stack[-1] = Called(cls, at, args)
                pos += 1
            elif op == 0x6F:  # OBJ
                at = r.base + pos
                items = stack
                stack = metastack.pop()
                if not items:
                    raise Malformed(f"OBJ without a class at {at}")
                args = _tuple(tuple(items[1:]))
                sink.on_call(items[0], at, "OBJ", args)
                stack.append(Called(items[0], at, args))
                pos += 1
            elif op == 0x82 or op == 0x83 or op == 0x84:  # EXT1, EXT2, EXT4
                width = FIXED[op]
                sink.on_extension(_u(buf, pos + 1, width), r.base + pos)
                stack.append(EXTENSION)
                pos += 1 + width
            elif op == 0x51:  # BINPERSID
                sink.on_persistent_id(r.base + pos)
                stack[-1] = PERSISTENT
                pos += 1
            elif op == 0x50:  # PERSID
                sink.on_persistent_id(r.base + pos)
                _, pos = _line(r, pos + 1)
                buf = r.buf
                lim = len(buf) - 16
                stack.append(PERSISTENT)
            # --- stack manipulation ---
            elif op == 0x30:  # POP
                if stack:
                    stack.pop()
                else:
                    stack = metastack.pop()
                pos += 1
            elif op == 0x31:  # POP_MARK
                stack = metastack.pop()
                pos += 1
            elif op == 0x32:  # DUP
                stack.append(stack[-1])
                pos += 1
            elif op == 0x2E:  # STOP
                stack.pop()
                m.ops += ops
                r.buf = buf
                r.pos = pos + 1
                return r.base + pos
            elif op == 0x80:  # PROTO
                proto = buf[pos + 1]
                if proto > 5:
                    raise Malformed(f"unsupported pickle protocol {proto} at {r.base + pos}")
                m.protocol = proto
                pos += 2
            elif op == 0x97:  # NEXT_BUFFER
                stack.append(None)
                pos += 1
            elif op == 0x98:  # READONLY_BUFFER
                stack[-1]
                pos += 1
            # --- protocol 0 text opcodes ---
            elif op in _TEXT_LINE:
                at = r.base + pos
                value, pos = _text_opcode(r, op, pos, at, stack, m)
                buf = r.buf
                lim = len(buf) - 16
                if op == 0x70:  # PUT
                    memo_put(value, stack[-1])
                elif op == 0x67:  # GET
                    stack.append(memo_get(value, at))
            else:
                raise Malformed(f"invalid opcode 0x{op:02x} at offset {r.base + pos}")
    except IndexError:
        m.ops += ops
        raise Malformed(
            f"stack or mark underflow at offset {r.base + pos} (opcode 0x{op:02x})"
        ) from None


_SIZED = frozenset({0x8D, 0x58, 0x54, 0x42, 0x43, 0x8E, 0x96, 0x8A, 0x8B})
_TEXT = frozenset({0x8D, 0x58, 0x54})
_TEXT_LINE = frozenset(b"ILFSVgp")


def _tuple(items: tuple[object, ...]) -> object:
    """Keep a tuple only when it holds something worth reporting."""
    if len(items) <= 16:
        for item in items:
            if item is not None:
                return items
    return None


def _line(r: Reader, pos: int) -> tuple[bytes, int]:
    return r.line(pos)


def _text_opcode(
    r: Reader, op: int, pos: int, at: int, stack: list[object], m: Machine
) -> tuple[int, int]:
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
            value = raw.decode("raw-unicode-escape").encode("utf-8", "surrogatepass")
        stack.append(value if len(value) <= MAX_STR else LONG_STRING)
        return 0, pos
    raw, pos = r.line(pos + 1)
    if op == 0x49 or op == 0x67 or op == 0x70:
        ok = _DECIMAL.fullmatch(raw) is not None
    elif op == 0x4C:
        ok = _LONG.fullmatch(raw) is not None
    else:
        ok = _FLOAT.fullmatch(raw) is not None
    if not ok:
        raise Malformed(f"bad text argument {raw[:40]!r} at {at}")
    if op == 0x67 or op == 0x70:
        idx = int(raw)
        if idx < 0:
            raise Malformed(f"negative memo index at {at}")
        return idx, pos
    stack.append(None)
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
        m.ops += nested.ops
        return r.pos
    return r.skip(pos, skip.size)
