"""TensorFlow SavedModel (``saved_model.pb``) and Keras's ``keras_metadata.pb``.

Both are protobuf, decoded here by field number (no TensorFlow needed). In the graph and
in every function of its library, operations that run Python (``PyFunc``), read or write
files, or talk to other machines are reported; the lists are in ``data/formats.toml``.
Keras metadata holds one JSON config per layer, checked like a ``.keras`` config.
"""

from __future__ import annotations

import json
from typing import ClassVar

from bastion.errors import ScanError
from bastion.models import Location, Severity
from bastion.scan._context import ScanContext
from bastion.scan._formats_data import tensorflow_ops
from bastion.scan._keras import check_config
from bastion.scan._protobuf import LENGTH, Message
from bastion.scan._seekable import random_access
from bastion.scan._sniff import keras_metadata_head, savedmodel_head
from bastion.scan.base import ByteStream

_RULES = {
    "python": ("tensorflow.python-op", Severity.CRITICAL, "runs Python code"),
    "file-read": ("tensorflow.file-read", Severity.HIGH, "reads files"),
    "file-write": ("tensorflow.file-write", Severity.HIGH, "writes files"),
    "network": ("tensorflow.network-op", Severity.HIGH, "talks to other machines"),
}
MAX_EXAMPLES = 20


class SavedModelScanner:
    name: ClassVar[str] = "tf-savedmodel"

    def sniff(self, head: bytes) -> bool:
        return savedmodel_head(head)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        seen: dict[str, list[str]] = {}
        with random_access(stream, ctx.limits.max_member_size) as window:
            model = Message.whole(window)
            for meta_graph in model.messages(2):
                for graph in meta_graph.messages(2):
                    _walk_graph(graph, seen)
                for object_graph in meta_graph.messages(7):
                    _user_objects(object_graph, location, ctx)
        ops = tensorflow_ops()
        for op, where in sorted(seen.items()):
            group = ops.get(op)
            if group is None:
                continue
            rule, severity, what = _RULES[group]
            ctx.finding(
                rule,
                severity,
                f"graph operation {op} {what} when the model runs ({len(where)} nodes: "
                f"{', '.join(where[:3])})",
                location,
                op=op,
                nodes=where[:MAX_EXAMPLES],
            )


def _user_objects(object_graph: Message, location: Location, ctx: ScanContext) -> None:
    """Keras layers saved by TF 2 before keras_metadata.pb: SavedObjectGraph.nodes ->
    SavedObject.user_object -> SavedUserObject.metadata, a JSON layer config."""
    for saved_object in object_graph.messages(1):
        for user_object in saved_object.messages(4):
            identifier = user_object.last_string(1, "?")
            for text in user_object.strings(3, 64 << 20):
                try:
                    doc = json.loads(text)
                except json.JSONDecodeError:
                    continue  # metadata is optional and free-form outside Keras
                if isinstance(doc, dict):
                    check_config(doc, location.child(f"<{identifier}>"), ctx, known=False)


def _walk_graph(graph: Message, seen: dict[str, list[str]]) -> None:
    for field in graph:
        if field.wire != LENGTH:
            continue
        if field.number == 1:  # node
            _node(graph.sub(field), "graph", seen)
        elif field.number == 2:  # library
            for function in graph.sub(field).messages(1):
                name = "?"
                for signature in function.messages(1):
                    name = signature.last_string(1, "?")
                for node in function.messages(3):
                    _node(node, name, seen)


def _node(node: Message, scope: str, seen: dict[str, list[str]]) -> None:
    name = node.last_string(1, "?")
    for op in node.strings(2, 4096):
        where = seen.setdefault(op, [])
        if len(where) < MAX_EXAMPLES:
            where.append(f"{scope}/{name}")


class KerasMetadataScanner:
    name: ClassVar[str] = "keras-metadata"

    def sniff(self, head: bytes) -> bool:
        return keras_metadata_head(head)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        with random_access(stream, ctx.limits.max_member_size) as window:
            metadata = Message.whole(window)
            for saved_object in metadata.messages(1):
                path = saved_object.last_string(2, "?")
                for text in saved_object.strings(4, 64 << 20):
                    try:
                        doc = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise ScanError(f"Keras metadata of {path} is not JSON: {exc}") from exc
                    check_config(doc, location.child(f"<{path}>"), ctx)
