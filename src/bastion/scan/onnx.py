"""ONNX models: a protobuf ``ModelProto``, decoded by field number (no onnx import).

Checked: external-data locations (absolute, or escaping the model's folder), external
data that the file it names cannot hold, tensors whose bytes disagree with their shape,
and operators from domains no standard runtime implements (they need a custom operator
library, which is native code). Subgraphs (``If``/``Loop``/``Scan``) and the model's
functions are walked too. Tensor bytes are skipped, never read.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import ClassVar

from bastion.models import Location, Severity
from bastion.scan._context import ScanContext
from bastion.scan._formats_data import onnx_standard_domains
from bastion.scan._protobuf import (
    LENGTH,
    VARINT,
    Field,
    Message,
    packed_or_plain_ints,
)
from bastion.scan._seekable import random_access
from bastion.scan._sniff import onnx_head, onnx_tail
from bastion.scan.base import ByteStream, SeekableStream

#: TensorProto data_type -> bits per element (strings have no fixed size).
_BITS = {1: 32, 2: 8, 3: 8, 4: 16, 5: 16, 6: 32, 7: 64, 9: 8, 10: 16, 11: 64, 12: 32, 13: 64,
         14: 64, 15: 128, 16: 16, 17: 8, 18: 8, 19: 8, 20: 8, 21: 4, 22: 4, 23: 4}  # fmt: skip
_ABSOLUTE = re.compile(r"^(?:[\\/]|[A-Za-z]:|[A-Za-z][\w+.-]*://)")


@dataclass
class _Walk:
    location: Location
    ctx: ScanContext
    folder: str | None
    functions: set[tuple[str, str]] = field(default_factory=set)
    reported: set[tuple[str, str]] = field(default_factory=set)


class OnnxScanner:
    name: ClassVar[str] = "onnx"

    def sniff(self, head: bytes) -> bool:
        return onnx_head(head)

    def sniff_tail(self, stream: SeekableStream) -> bool:
        return onnx_tail(stream)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        folder = os.path.dirname(location.path) if not location.members else None
        walk = _Walk(location, ctx, folder)
        with random_access(stream, ctx.limits.max_member_size) as window:
            model = Message.whole(window)
            for function in model.messages(25):
                walk.functions.add((function.last_string(10), function.last_string(1)))
            for item in model:
                if item.number == 7 and item.wire == LENGTH:
                    _graph(model.sub(item), walk)
                elif item.number == 25 and item.wire == LENGTH:
                    for node in model.sub(item).messages(7):
                        _node(node, walk)


def _graph(graph: Message, walk: _Walk) -> None:
    for item in graph:
        if item.wire != LENGTH:
            continue
        if item.number == 1:
            _node(graph.sub(item), walk)
        elif item.number == 5:
            _tensor(graph.sub(item), walk)
        elif item.number == 15:  # sparse initializer: values and indices
            for tensor in graph.sub(item).messages(1):
                _tensor(tensor, walk)


def _node(node: Message, walk: _Walk) -> None:
    op_type, domain = "", ""
    attributes: list[Message] = []
    for item in node:  # one pass; singular fields: the last occurrence wins
        if item.wire != LENGTH:
            continue
        if item.number == 4:
            op_type = node.text(item, 4096)
        elif item.number == 7:
            domain = node.text(item, 4096)
        elif item.number == 5:
            attributes.append(node.sub(item))
    key = (domain, op_type)
    custom = domain not in onnx_standard_domains() and key not in walk.functions
    if custom and key not in walk.reported:
        walk.reported.add(key)
        walk.ctx.finding(
            "onnx.custom-operator",
            Severity.MEDIUM,
            f"operator {op_type!r} of domain {domain!r} needs a custom operator library "
            "(native code) to load",
            walk.location,
            domain=domain,
            op_type=op_type,
        )
    for attribute in attributes:
        _attribute(attribute, walk)


def _attribute(attribute: Message, walk: _Walk) -> None:
    for item in attribute:
        if item.wire != LENGTH:
            continue
        if item.number in (6, 11):  # g, graphs
            _graph(attribute.sub(item), walk)
        elif item.number in (5, 10):  # t, tensors
            _tensor(attribute.sub(item), walk)


def _tensor(tensor: Message, walk: _Walk) -> None:
    dims = packed_or_plain_ints(tensor, 1)
    data_type, name = 0, "?"
    external: dict[str, str] = {}
    raw: Field | None = None
    for item in tensor:  # singular fields: the last occurrence wins
        if item.number == 2 and item.wire == VARINT:
            data_type = item.value
        elif item.number == 8 and item.wire == LENGTH:
            name = tensor.text(item, 4096)
        elif item.number == 13 and item.wire == LENGTH:
            entry = tensor.sub(item)
            external[entry.last_string(1)] = entry.last_string(2)
        elif item.number == 9 and item.wire == LENGTH:
            raw = item
    bits = _BITS.get(data_type)
    expected = math.ceil(math.prod(dims) * bits / 8) if bits is not None else None
    if raw is not None and expected is not None and raw.value != expected:
        walk.ctx.finding(
            "onnx.size-mismatch",
            Severity.MEDIUM,
            f"tensor {name!r} holds {raw.value} bytes where its shape needs {expected}",
            walk.location.at(raw.start),
            tensor=name,
        )
    if external:
        _external(name, external, expected, walk)


def _external(name: str, entry: dict[str, str], expected: int | None, walk: _Walk) -> None:
    target = entry.get("location", "")
    parts = re.split(r"[\\/]", target)
    if not target or _ABSOLUTE.match(target) or ".." in parts or "\x00" in target:
        walk.ctx.finding(
            "onnx.external-data-traversal",
            Severity.HIGH,
            f"tensor {name!r} reads its data from {target!r}, outside the model's folder",
            walk.location,
            tensor=name,
            external_location=target,
        )
        return
    if walk.folder is None:
        return  # inside an archive: the file it names is a sibling member, not on disk
    path = os.path.join(walk.folder, target)
    real_folder = os.path.realpath(walk.folder)
    if os.path.commonpath([real_folder, os.path.realpath(path)]) != real_folder:
        walk.ctx.finding(
            "onnx.external-data-traversal",
            Severity.HIGH,
            f"tensor {name!r} reads {target!r}, a link that leads out of the model's folder",
            walk.location,
            tensor=name,
            external_location=target,
        )
        return
    _external_size(name, path, entry, expected, walk)


def _external_size(
    name: str, path: str, entry: dict[str, str], expected: int | None, walk: _Walk
) -> None:
    try:
        size = os.path.getsize(path)
    except OSError:
        return  # missing data: the model does not load, which is not a security matter
    offset = int(entry["offset"]) if entry.get("offset", "").isdigit() else 0
    length = int(entry["length"]) if entry.get("length", "").isdigit() else expected
    if length is not None and offset + length > size:
        walk.ctx.finding(
            "onnx.size-exceeds-file",
            Severity.MEDIUM,
            f"tensor {name!r} declares bytes {offset}..{offset + length} of "
            f"{entry.get('location')!r}, which has {size}",
            walk.location,
            tensor=name,
        )
