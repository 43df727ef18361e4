"""safetensors: an 8-byte header length, a JSON header, then raw tensor bytes.

No code can run from the tensor bytes, so the risks are in the header and in bytes no
tensor claims: a header that lies about sizes (loaders disagree, or read out of bounds),
metadata that is not the flat string map the format allows, and gaps or trailing bytes
where a payload hides. The header is validated as strictly as the reference loader does;
bytes outside every tensor are scanned as content of their own. Tensor data is never read.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import ClassVar

from bastion.errors import LimitExceeded, ScanError
from bastion.models import Location, Severity
from bastion.scan._context import ScanContext
from bastion.scan._seekable import Window, random_access
from bastion.scan._sniff import SAFETENSORS_MAX_HEADER as MAX_HEADER
from bastion.scan._sniff import safetensors_head
from bastion.scan._streams import Slice
from bastion.scan.base import ByteStream

#: Bits per element of every dtype the format defines.
DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32, "C64": 64,
    "I64": 64, "U64": 64, "F64": 64,
    "F6_E2M3": 6, "F6_E3M2": 6, "F4": 4,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TensorSpan:
    name: str
    begin: int
    end: int


class SafetensorsScanner:
    name: ClassVar[str] = "safetensors"

    def sniff(self, head: bytes) -> bool:
        return safetensors_head(head)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        with random_access(stream, ctx.limits.max_member_size) as window:
            header, data_start, duplicates = read_header(window)
            if duplicates:
                ctx.finding(
                    "safetensors.duplicate-key",
                    Severity.HIGH,
                    f"the header repeats {', '.join(sorted(duplicates)[:10])}; loaders "
                    "disagree on which entry they use",
                    location,
                    keys=sorted(duplicates)[:50],
                )
            spans = _check_entries(header, location, ctx)
            _check_layout(spans, window, data_start, location, ctx)


def read_header(window: Window) -> tuple[dict[str, object], int, set[str]]:
    """The parsed JSON header, where the data section starts, and keys given twice."""
    prefix = window.read_at(0, 8)
    if len(prefix) < 8:
        raise ScanError("safetensors header length is truncated")
    size = int.from_bytes(prefix, "little")
    if size > MAX_HEADER:
        raise LimitExceeded(f"safetensors header of {size} bytes (limit {MAX_HEADER})")
    if 8 + size > window.size:
        raise ScanError(f"safetensors header of {size} bytes runs past the end of the file")
    raw = window.read_at(8, size)
    duplicates: set[str] = set()

    def pairs_hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
        out: dict[str, object] = {}
        for key, value in pairs:
            if key in out:
                duplicates.add(key)
            out[key] = value
        return out

    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs_hook)
    except UnicodeDecodeError as exc:
        raise ScanError(f"safetensors header is not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ScanError(f"safetensors header is not valid JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise ScanError("safetensors header is not a JSON object")
    return header, 8 + size, duplicates


def _check_entries(
    header: dict[str, object], location: Location, ctx: ScanContext
) -> list[TensorSpan]:
    spans: list[TensorSpan] = []
    for name, entry in header.items():
        if name == "__metadata__":
            _check_metadata(entry, location, ctx)
            continue
        problem, span = _tensor_span(name, entry)
        if problem:
            rule = (
                "safetensors.size-mismatch"
                if "bytes for" in problem
                else "safetensors.invalid-tensor"
            )
            ctx.finding(rule, Severity.HIGH, f"tensor {name!r}: {problem}", location, tensor=name)
        if span is not None:
            spans.append(span)
    return spans


def _check_metadata(entry: object, location: Location, ctx: ScanContext) -> None:
    if not isinstance(entry, dict):
        ctx.finding(
            "safetensors.metadata-not-string",
            Severity.MEDIUM,
            "__metadata__ is not a map of strings; the format allows nothing else",
            location,
        )
        return
    bad = sorted(k for k, v in entry.items() if not isinstance(v, str))
    if bad:
        ctx.finding(
            "safetensors.metadata-not-string",
            Severity.MEDIUM,
            f"__metadata__ values that are not strings: {', '.join(bad[:10])}",
            location,
            keys=bad[:50],
        )


def _tensor_span(name: str, entry: object) -> tuple[str, TensorSpan | None]:
    """(problem, span): the span is kept whenever the byte range itself is readable."""
    if not isinstance(entry, dict):
        return "entry is not an object", None
    extra = sorted(set(entry) - {"dtype", "shape", "data_offsets"})
    offsets = entry.get("data_offsets")
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(type(o) is int and o >= 0 for o in offsets)
    ):
        return f"data_offsets {offsets!r} is not a pair of byte offsets", None
    begin, end = offsets
    if begin > end:
        return f"data_offsets end {end} before they begin {begin}", None
    span = TensorSpan(name, begin, end)
    if extra:
        return f"unexpected keys {extra}", span
    dtype, shape = entry.get("dtype"), entry.get("shape")
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        return f"dtype {dtype!r} is not a safetensors dtype", span
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        return f"shape {shape!r} is not a list of sizes", span
    bits = math.prod(shape) * DTYPE_BITS[dtype]
    if bits % 8 or bits // 8 != end - begin:
        return f"{dtype}{shape} needs {bits / 8:g} bytes for {end - begin} in its range", span
    return "", span


def _check_layout(
    spans: list[TensorSpan], window: Window, data_start: int, location: Location, ctx: ScanContext
) -> None:
    data_len = window.size - data_start
    spans.sort(key=lambda s: (s.begin, s.end))
    covered = 0
    for span in spans:
        if span.end > data_len:
            ctx.finding(
                "safetensors.out-of-bounds",
                Severity.HIGH,
                f"tensor {span.name!r} ends at byte {span.end} of a {data_len}-byte data section",
                location,
                tensor=span.name,
            )
        if span.begin < covered:
            ctx.finding(
                "safetensors.overlap",
                Severity.HIGH,
                f"tensor {span.name!r} shares bytes with the tensor before it",
                location,
                tensor=span.name,
            )
        elif span.begin > covered:
            _hidden(window, data_start, covered, span.begin, "gap", location, ctx)
        covered = max(covered, span.end)
    if covered < data_len:
        _hidden(window, data_start, covered, data_len, "trailing-data", location, ctx)


def _hidden(
    window: Window,
    data_start: int,
    begin: int,
    end: int,
    kind: str,
    location: Location,
    ctx: ScanContext,
) -> None:
    where = "after the last tensor" if kind == "trailing-data" else "between tensors"
    ctx.finding(
        f"safetensors.{kind}",
        Severity.HIGH,
        f"{end - begin} bytes {where} belong to no tensor (a place to hide a payload); "
        "they are scanned",
        location.at(data_start + begin),
        size=end - begin,
    )
    hidden = Slice(window.raw, window.base + data_start + begin, end - begin)
    ctx.scan_stream(hidden, location.child(f"<{kind}@{data_start + begin}>"))
