"""TensorFlow SavedModel and Keras metadata protobufs, written field by field (the wire
format is simple; TensorFlow is not installed in the test environment)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.models import Severity
from bastion.scan import Status
from tests.scan.formats._util import assert_clean, assert_flagged, scan_bytes


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def ld(number: int, payload: bytes | str) -> bytes:
    raw = payload.encode() if isinstance(payload, str) else payload
    return varint(number << 3 | 2) + varint(len(raw)) + raw


def node(name: str, op: str) -> bytes:
    attr = ld(5, ld(1, "dtype") + ld(2, varint(6 << 3) + varint(1)))  # attr map entry
    return ld(1, name) + ld(2, op) + ld(3, "input:0") + attr


def function(name: str, ops: list[str]) -> bytes:
    return ld(1, ld(1, name)) + b"".join(ld(3, node(f"n{i}", op)) for i, op in enumerate(ops))


BENIGN_OPS = ["Const", "VarHandleOp", "ReadVariableOp", "MatMul", "SaveV2", "RestoreV2",
              "MergeV2Checkpoints", "ShardedFilename", "StringJoin", "StaticRegexFullMatch",
              "StatefulPartitionedCall", "NoOp", "Identity"]  # fmt: skip


def saved_model(
    graph_ops: list[str], function_ops: list[str] = (), layers: list[dict[str, object]] = ()
) -> bytes:
    graph = b"".join(ld(1, node(f"g{i}", op)) for i, op in enumerate(graph_ops))
    graph += ld(2, ld(1, function("__inference_serve_42", list(function_ops))))
    objects = b"".join(
        ld(1, ld(4, ld(1, "_tf_keras_layer") + ld(3, json.dumps(layer)))) for layer in layers
    )
    meta_graph = ld(1, ld(4, "serve")) + ld(2, graph) + ld(7, objects)
    return varint(1 << 3) + varint(1) + ld(2, meta_graph)


def test_benign_graph_is_clean(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, saved_model(BENIGN_OPS, BENIGN_OPS), "saved_model.pb")
    assert_clean(result)
    assert result.formats == ("tf-savedmodel",)


@pytest.mark.parametrize(
    ("op", "rule", "severity"),
    [
        ("PyFunc", "tensorflow.python-op", Severity.CRITICAL),
        ("EagerPyFunc", "tensorflow.python-op", Severity.CRITICAL),
        ("ReadFile", "tensorflow.file-read", Severity.HIGH),
        ("MatchingFiles", "tensorflow.file-read", Severity.HIGH),
        ("WriteFile", "tensorflow.file-write", Severity.HIGH),
        ("DebugIdentityV2", "tensorflow.network-op", Severity.HIGH),
    ],
)
def test_risky_ops_in_graph_and_in_functions(
    tmp_path: Path, op: str, rule: str, severity: Severity
) -> None:
    in_graph = scan_bytes(tmp_path, saved_model([*BENIGN_OPS, op]), "saved_model.pb")
    assert_flagged(in_graph, rule, severity)
    in_function = scan_bytes(tmp_path, saved_model(BENIGN_OPS, ["Const", op]), "saved_model.pb")
    assert_flagged(in_function, rule, severity)
    assert "__inference_serve_42/n1" in in_function.findings[0].details["nodes"]


def test_truncated_graph_is_an_error(tmp_path: Path) -> None:
    data = saved_model(BENIGN_OPS, ["PyFunc"])
    assert scan_bytes(tmp_path, data[:-7], "saved_model.pb").status is Status.ERROR


def keras_metadata(*layers: dict[str, object]) -> bytes:
    nodes = b""
    for i, layer in enumerate(layers):
        body = varint(1 << 3) + varint(i) + ld(2, f"root.layer-{i}") + ld(3, "_tf_keras_layer")
        nodes += ld(1, body + ld(4, json.dumps(layer)) + ld(5, ld(1, "1")))
    return nodes


def test_keras_metadata_lambda_is_found(tmp_path: Path) -> None:
    dense = {"class_name": "Dense", "name": "d", "config": {"units": 2}}
    lam = {"class_name": "Lambda", "name": "l", "config": {"function": ["YWJj", None, None],
           "function_type": "lambda"}}  # fmt: skip
    assert_clean(scan_bytes(tmp_path, keras_metadata(dense), "keras_metadata.pb"))
    result = scan_bytes(tmp_path, keras_metadata(dense, lam), "keras_metadata.pb")
    assert_flagged(result, "keras.lambda-layer", Severity.CRITICAL)
    assert "keras-metadata" in result.formats


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_graphs_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    raw = bytearray(saved_model(BENIGN_OPS, ["PyFunc", "ReadFile"]))
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(6, len(raw) - 1))] = data.draw(st.integers(0, 255))
    result = scan_bytes(tmp_path, bytes(raw), "saved_model.pb")
    assert result.status in (Status.CLEAN, Status.FINDINGS, Status.ERROR, Status.SKIPPED)


def test_tf2_user_object_metadata_is_checked_as_keras(tmp_path: Path) -> None:
    dense = {"class_name": "Dense", "config": {"units": 2}}
    foreign = {"class_name": "function", "module": "os", "config": "system"}
    clean = saved_model(BENIGN_OPS, layers=[dense])
    assert_clean(scan_bytes(tmp_path, clean, "saved_model.pb"))
    hostile = saved_model(
        BENIGN_OPS, layers=[dense, {"class_name": "Dense", "config": {"activation": foreign}}]
    )
    assert_flagged(
        scan_bytes(tmp_path, hostile, "saved_model.pb"), "keras.external-module", Severity.CRITICAL
    )
