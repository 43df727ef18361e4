"""ONNX: models built with the real ``onnx`` library, benign and hostile."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from bastion.scan import Status
from bastion.scan.onnx import OnnxScanner
from tests.scan.formats._util import assert_clean, assert_flagged, rules, scan, scan_bytes


def add_model(
    *, domain: str = "", op: str = "Add", extra_nodes=(), functions=()
) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    w = numpy_helper.from_array(np.arange(4, dtype=np.float32), "w")
    node = helper.make_node(op, ["x", "w"], ["y"], domain=domain)
    graph = helper.make_graph([node, *extra_nodes], "g", [x], [y], [w])
    opsets = [helper.make_opsetid("", 17)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 1))
    return helper.make_model(graph, opset_imports=opsets, functions=list(functions))


def save(model: onnx.ModelProto, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def test_plain_model_is_clean(tmp_path: Path) -> None:
    result = scan(save(add_model(), tmp_path / "m.onnx"))
    assert_clean(result)
    assert result.formats == ("onnx",)


def test_external_data_written_by_onnx_is_clean(tmp_path: Path) -> None:
    model = add_model()
    big = numpy_helper.from_array(np.ones(4096, np.float32), "big")
    model.graph.initializer.append(big)
    onnx.save_model(model, tmp_path / "m.onnx", save_as_external_data=True, location="w.bin")
    assert (tmp_path / "w.bin").exists()
    assert_clean(scan(tmp_path / "m.onnx"))


def external(model: onnx.ModelProto, location: str, **entries: str) -> onnx.ModelProto:
    tensor = model.graph.initializer[0]
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in {"location": location, **entries}.items():
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    return model


@pytest.mark.parametrize(
    "location",
    ["../../etc/passwd", "/etc/passwd", "C:\\Windows\\win.ini", "a/../../b", "file:///x"],
)
def test_external_data_escaping_the_folder(tmp_path: Path, location: str) -> None:
    result = scan(save(external(add_model(), location), tmp_path / "m.onnx"))
    assert_flagged(result, "onnx.external-data-traversal")


def test_external_data_through_a_symlink(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"x" * 64)
    folder = tmp_path / "model"
    folder.mkdir()
    os.symlink(secret, folder / "w.bin")
    result = scan(save(external(add_model(), "w.bin"), folder / "m.onnx"))
    assert_flagged(result, "onnx.external-data-traversal")


def test_external_data_larger_than_its_file(tmp_path: Path) -> None:
    (tmp_path / "w.bin").write_bytes(b"\0" * 8)
    result = scan(
        save(external(add_model(), "w.bin", offset="4", length="16"), tmp_path / "m.onnx")
    )
    assert_flagged(result, "onnx.size-exceeds-file")
    (tmp_path / "w.bin").write_bytes(b"\0" * 32)
    assert_clean(scan(tmp_path / "m.onnx"))


def test_raw_data_that_disagrees_with_the_shape(tmp_path: Path) -> None:
    model = add_model()
    model.graph.initializer[0].raw_data = b"\0" * 6
    assert_flagged(scan(save(model, tmp_path / "m.onnx")), "onnx.size-mismatch")


def test_custom_operator_domain(tmp_path: Path) -> None:
    result = scan(save(add_model(domain="com.evil", op="Pwn"), tmp_path / "m.onnx"))
    assert_flagged(result, "onnx.custom-operator")
    assert result.findings[0].details["domain"] == "com.evil"


def test_ml_and_microsoft_domains_are_standard(tmp_path: Path) -> None:
    extra = [helper.make_node("FusedGemm", ["x", "x"], ["z"], domain="com.microsoft")]
    assert_clean(scan(save(add_model(extra_nodes=extra), tmp_path / "m.onnx")))


def test_model_local_function_is_not_a_custom_operator(tmp_path: Path) -> None:
    body = [helper.make_node("Add", ["a", "b"], ["c"])]
    function = helper.make_function(
        "local.fn", "MyAdd", ["a", "b"], ["c"], body, [helper.make_opsetid("", 17)]
    )
    model = add_model(domain="local.fn", op="MyAdd", functions=[function])
    assert_clean(scan(save(model, tmp_path / "m.onnx")))


def test_custom_operator_inside_a_function_body(tmp_path: Path) -> None:
    body = [helper.make_node("Pwn", ["a", "b"], ["c"], domain="com.evil")]
    function = helper.make_function(
        "local.fn", "MyAdd", ["a", "b"], ["c"], body, [helper.make_opsetid("com.evil", 1)]
    )
    model = add_model(domain="local.fn", op="MyAdd", functions=[function])
    assert_flagged(scan(save(model, tmp_path / "m.onnx")), "onnx.custom-operator")


def test_custom_operator_and_traversal_inside_an_if_subgraph(tmp_path: Path) -> None:
    inner_w = numpy_helper.from_array(np.ones(4, np.float32), "iw")
    inner_w.ClearField("raw_data")
    inner_w.data_location = TensorProto.EXTERNAL
    entry = inner_w.external_data.add()
    entry.key, entry.value = "location", "../../../root/.ssh/id_rsa"
    then = helper.make_graph(
        [helper.make_node("Pwn", ["x"], ["t"], domain="com.evil")],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [4])],
        [inner_w],
    )
    orelse = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [4])],
    )
    cond = helper.make_node("If", ["c"], ["out"], then_branch=then, else_branch=orelse)
    model = add_model(extra_nodes=[cond])
    result = scan(save(model, tmp_path / "m.onnx"))
    assert {"onnx.custom-operator", "onnx.external-data-traversal"} <= rules(result)


def test_truncated_model_is_an_error(tmp_path: Path) -> None:
    data = add_model().SerializeToString()
    result = scan_bytes(tmp_path, data[: len(data) - 10], "m.onnx")
    assert result.status is Status.ERROR


def test_sniff_needs_model_fields() -> None:
    assert OnnxScanner().sniff(add_model().SerializeToString())
    assert not OnnxScanner().sniff(b"\x08\x07\xff\xff\xff")
    assert not OnnxScanner().sniff(b"hello world")


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_models_never_crash(tmp_path: Path, data: st.DataObject) -> None:
    raw = bytearray(add_model(domain="com.evil", op="X").SerializeToString())
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(2, len(raw) - 1))] = data.draw(st.integers(0, 255))
    result = scan_bytes(tmp_path, bytes(raw), "m.onnx")
    assert result.status in (Status.CLEAN, Status.FINDINGS, Status.ERROR, Status.SKIPPED)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tail=st.binary(max_size=300))
def test_random_bodies_never_crash(tmp_path: Path, tail: bytes) -> None:
    result = scan_bytes(tmp_path, b"\x08\x08" + tail, "m.onnx")
    assert result.status in (Status.CLEAN, Status.FINDINGS, Status.ERROR, Status.SKIPPED)


def test_fields_in_any_order_are_still_onnx(tmp_path: Path) -> None:
    """Protobuf readers accept fields in any order: ir_version last must not hide a model."""
    model = external(add_model(domain="com.evil", op="Pwn"), "../../etc/shadow")
    raw = model.SerializeToString()
    ir_field = raw[:2]
    assert ir_field[0] == 0x08
    reordered = raw[2:] + ir_field
    assert onnx.load_from_string(reordered).ir_version == model.ir_version
    result = scan_bytes(tmp_path, reordered, "m.onnx")
    assert {"onnx.custom-operator", "onnx.external-data-traversal"} <= rules(result)


def test_models_inside_archives(tmp_path: Path) -> None:
    import tarfile
    import zipfile

    model = save(external(add_model(), "../../../etc/passwd"), tmp_path / "m.onnx")
    with tarfile.open(tmp_path / "bundle.tar.gz", "w:gz") as tar:
        tar.add(model, "repo/onnx/model.onnx")
    assert_flagged(scan(tmp_path / "bundle.tar.gz"), "onnx.external-data-traversal")
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(model, "onnx/model.onnx")
    assert_flagged(scan(tmp_path / "bundle.zip"), "onnx.external-data-traversal")


def test_a_repeated_singular_field_is_read_as_protobuf_reads_it(tmp_path: Path) -> None:
    """The last occurrence of a singular field wins: an earlier, harmless domain must not
    hide the custom one a runtime will see."""
    from tests.scan.formats.test_savedmodel import ld, varint

    node = ld(1, "x") + ld(2, "y") + ld(4, "Pwn") + ld(7, "") + ld(7, "com.evil")
    graph = ld(1, node) + ld(2, "g")
    data = (
        varint(1 << 3) + varint(8) + ld(7, graph) + ld(8, ld(1, "") + varint(2 << 3) + varint(17))
    )
    assert onnx.load_from_string(data).graph.node[0].domain == "com.evil"
    result = scan_bytes(tmp_path, data, "m.onnx")
    assert_flagged(result, "onnx.custom-operator")
    assert result.findings[0].details["domain"] == "com.evil"
