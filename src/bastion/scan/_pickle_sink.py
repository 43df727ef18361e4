"""Turns what the symbolic machine sees into findings, through the policy."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from bastion.models import Details, Finding, Location, Severity
from bastion.scan._pickle_vm import (
    EXTENSION,
    PERSISTENT,
    SCANNED_BLOB,
    Called,
    Global,
    Machine,
    Reader,
    Skip,
    decode_text,
)
from bastion.scan._policy import Policy

if TYPE_CHECKING:
    from bastion.scan._context import ScanContext

JOBLIB_WRAPPERS = frozenset(
    {
        ("joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
    }
)
_DTYPE_GLOBALS = frozenset({("numpy", "dtype"), ("numpy.core.multiarray", "dtype")})
_UNIT = {"b": 1, "i": 0, "u": 0, "f": 0, "c": 0, "S": 1, "a": 1, "U": 4, "V": 1, "M": 8, "m": 8}


#: Functions that deserialize their bytes argument. Called with bytes the scanner has
#: scanned as a nested stream (findings reported there), they are not findings here.
NESTED_LOADERS = frozenset({("torch.storage", "_load_from_bytes")})


@dataclass(slots=True)
class _Use:
    first_offset: int
    opcode: str
    count: int = 0
    called: bool = False
    args: object = None
    uninspected_calls: int = 0


@dataclass(slots=True)
class PickleSink:
    """Collects imports and calls, then emits one finding per distinct problem."""

    policy: Policy
    location: Location
    machine: Machine | None = None
    ctx: ScanContext | None = None  # set where nested bytes may be scanned
    imports: dict[tuple[str, str], _Use] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    persistent_ids: int = 0
    calls: int = 0

    # --- Sink protocol -------------------------------------------------------------
    def on_import(self, value: Global, opcode: str) -> None:
        key = (value.module, value.name)
        use = self.imports.get(key)
        if use is None:
            use = self.imports[key] = _Use(value.offset, opcode)
            if key in JOBLIB_WRAPPERS and self.machine is not None:
                self.machine.track_dicts = True
        use.count += 1

    def on_call(self, func: object, offset: int, opcode: str, args: object) -> None:
        self.calls += 1
        if isinstance(func, Global):
            if func.module == "?":
                return  # reported once as an unresolved import
            use = self.imports.get((func.module, func.name))
            if use is not None:
                if not use.called:
                    use.args = args
                use.called = True
                if not _scanned_bytes(args):
                    use.uninspected_calls += 1
            return
        if func is EXTENSION:
            return  # reported by on_extension
        what = "the result of another call" if isinstance(func, Called) else _describe(func)
        if func is PERSISTENT:
            what = "an object returned by persistent_load"
        self._add(
            "pickle.unresolved-call",
            Severity.HIGH,
            f"{opcode} calls {what}; the target cannot be resolved statically",
            offset,
            opcode=opcode,
        )

    def on_unresolved_import(self, offset: int, reason: str) -> None:
        self._add(
            "pickle.unresolved-global",
            Severity.HIGH,
            f"an import whose name cannot be resolved statically ({reason})",
            offset,
        )

    def on_build(self, target: object, state: object, offset: int) -> Skip | None:
        if isinstance(target, Global):
            self._add(
                "pickle.build-on-global",
                Severity.HIGH,
                f"BUILD sets attributes on {target.path} itself, not on an instance",
                offset,
                **{"global": target.path},
            )
            return None
        if not isinstance(target, Called) or not isinstance(target.func, Global):
            return None
        key = (target.func.module, target.func.name)
        if key in _DTYPE_GLOBALS:
            target.state = state
        elif key in JOBLIB_WRAPPERS:
            return self._joblib_skip(state, offset)
        return None

    def on_extension(self, code: int, offset: int) -> None:
        self._add(
            "pickle.extension-code",
            Severity.HIGH,
            f"imports extension code {code} from the copyreg registry; "
            "what it names cannot be known statically",
            offset,
            code=code,
        )

    def on_persistent_id(self, offset: int) -> None:
        self.persistent_ids += 1

    def on_blob(
        self, reader: Reader, start: int, size: int, offset: int, *, latin1: bool = False
    ) -> int | None:
        """Scan bytes that hold a pickle or a zip (torch tensors pickled with plain
        pickle carry a whole ``torch.save`` archive this way)."""
        if self.ctx is None:
            return None
        import tempfile

        with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
            after = reader.copy(start, size, spool, latin1=latin1)
            spool.seek(0)
            self.ctx.scan_stream(spool, self.location.child(f"<bytes at {offset}>"))
        return after

    # --- results -------------------------------------------------------------------
    def flush(self) -> list[Finding]:
        """All findings, the import findings first, in stream order."""
        out: list[Finding] = []
        for (module, name), use in sorted(self.imports.items(), key=lambda kv: kv[1].first_offset):
            finding = self._import_finding(module, name, use)
            if finding is not None:
                out.append(finding)
        out.extend(self.findings)
        return out

    def _import_finding(self, module: str, name: str, use: _Use) -> Finding | None:
        decision = self.policy.decide(module, name)
        if decision.allowed:
            return None
        if (module, name) in NESTED_LOADERS and use.called and not use.uninspected_calls:
            return None  # every call loads bytes already scanned as a nested stream
        path = f"{module}.{name}"
        action = f"and calls it with {_describe(use.args)}" if use.called else "(not called)"
        if decision.severity is not None:
            rule, severity = "pickle.dangerous-global", decision.severity
            message = f"imports {path} ({decision.reason}) {action}"
        elif "." in name:
            rule = "pickle.attribute-traversal"
            severity = Severity.CRITICAL if use.called else Severity.HIGH
            message = (
                f"imports {path} by walking attributes from {module} "
                f"(a way to reach what a module merely imports) {action}"
            )
        else:
            rule = "pickle.unknown-global"
            severity = Severity.HIGH if use.called else Severity.MEDIUM
            message = f"imports {path}, which is not on the allowlist, {action}"
        details = {
            "global": path,
            "opcode": use.opcode,
            "called": use.called,
            "occurrences": use.count,
        }
        if use.called:
            details["args"] = _describe(use.args)
        return Finding(
            rule, severity, message, self.location.at(use.first_offset), Details(details)
        )

    def _add(
        self, rule: str, severity: Severity, message: str, offset: int, **details: object
    ) -> None:
        if sum(1 for f in self.findings if f.rule == rule) >= 100:
            return  # a hostile stream must not flood the report; the first 100 tell the story
        self.findings.append(
            Finding(rule, severity, message, self.location.at(offset), Details(details))
        )

    def _joblib_skip(self, state: object, offset: int) -> Skip | None:
        """How many bytes of array data follow a joblib ``NumpyArrayWrapper``."""
        if not isinstance(state, dict):
            self._add(
                "pickle.joblib-malformed",
                Severity.MEDIUM,
                "a joblib array wrapper whose state cannot be read; array data not located",
                offset,
            )
            return None
        padded = (
            b"numpy_array_alignment_bytes" in state
            and state[b"numpy_array_alignment_bytes"] is not None
        )
        shape = state.get(b"shape")
        itemsize, has_object = _dtype_size(state.get(b"dtype"))
        if has_object:
            return Skip(padded=False, nested_pickle=True)
        if (
            not isinstance(shape, tuple)
            or not all(isinstance(n, int) and n >= 0 for n in shape)
            or itemsize is None
        ):
            self._add(
                "pickle.joblib-malformed",
                Severity.MEDIUM,
                "a joblib array wrapper with an unreadable shape or dtype",
                offset,
            )
            return None
        return Skip(size=math.prod(shape) * itemsize, padded=padded)


def _scanned_bytes(args: object) -> bool:
    """True for ``(blob,)`` or ``(_codecs.encode(blob, "latin1"),)`` of scanned bytes."""
    if not isinstance(args, tuple) or len(args) != 1:
        return False
    (arg,) = args
    if arg is SCANNED_BLOB:
        return True
    return (
        isinstance(arg, Called)
        and isinstance(arg.func, Global)
        and (arg.func.module, arg.func.name) == ("_codecs", "encode")
        and isinstance(arg.args, tuple)
        and bool(arg.args)
        and arg.args[0] is SCANNED_BLOB
    )


def _dtype_size(value: object) -> tuple[int | None, bool]:
    """(itemsize, has_object) of a symbolic ``numpy.dtype(...)`` call."""
    if not isinstance(value, Called) or not isinstance(value.args, tuple) or not value.args:
        return None, False
    typestr = decode_text(value.args[0])
    if typestr is None:
        return None, False
    state = value.state
    flags = state[-1] if isinstance(state, tuple) and state else 0
    if typestr.startswith("O") or (isinstance(flags, int) and flags & 1):
        return None, True
    if isinstance(state, tuple) and len(state) >= 6 and isinstance(state[5], int) and state[5] > 0:
        return state[5], False
    match = _typestr().fullmatch(typestr)
    if match is None:
        return None, False
    kind, digits = match.group(1), match.group(2)
    if kind in ("b", "?") and not digits:
        return 1, False
    if not digits:
        return None, False
    unit = _UNIT.get(kind)
    if unit is None:
        return None, False
    return int(digits) * (unit or 1), False


def _describe(value: object, depth: int = 0) -> str:
    """A short, safe rendering of a symbolic value for reports."""
    if depth > 3:
        return "…"
    if isinstance(value, bytes):
        text = decode_text(value)
        return repr(text if text is not None else value)[:120]
    if isinstance(value, Global):
        return value.path
    if isinstance(value, Called):
        return f"{_describe(value.func, depth + 1)}(…)"
    if isinstance(value, tuple):
        inner = ", ".join(_describe(v, depth + 1) for v in value[:8])
        return f"({inner}{',' if len(value) == 1 else ''})"[:200]
    if value is None:
        return "(unknown)"
    if isinstance(value, bool | int):
        return repr(value)
    return repr(value)[:60]


@cache
def _typestr() -> re.Pattern[str]:
    """A NumPy dtype string such as ``<f4`` or ``|S10`` (compiled on first use)."""
    return re.compile(r"[<>|=]?([a-zA-Z?])(\d*)(?:\[\w+\])?")
