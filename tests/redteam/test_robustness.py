"""Hostile input never crashes: target answers, responses, attempt files, report content."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET  # our own report
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bastion.redteam as rt
from bastion.redteam import DETECTORS, DetectContext, Probe, Response, TargetError, read_records
from bastion.redteam.html import to_html
from bastion.redteam.reports import to_junit, to_sarif
from bastion.redteam.summary import Gate, summarise
from bastion.redteam.targets import parse_chat_completion

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(JSON)
def test_malformed_chat_completions_raise_target_error(data: Any) -> None:
    try:
        response = parse_chat_completion(data)
    except TargetError:
        return
    assert isinstance(response.text, str)


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=600), st.text(max_size=200))
def test_detectors_never_raise(text: str, prompt: str) -> None:
    probe = Probe("p", "c", prompt or "x", tuple(DETECTORS), marker="BST-X-1", tools=("t",))
    ctx = DetectContext(probe, prompt, canary="bst-canary-00112233", system_prompt=prompt or None)
    for detector in DETECTORS.values():
        assert isinstance(detector.detect(Response(text), ctx).hit, bool)


def test_attempt_file_with_garbage_lines(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"id": "a", "status": "pass"}\nnot json\n[1,2]\n{"id": 3}\n\xff\xfe\n'
                     b'{"id": "a", "status": "fail"}\n{"id": "b"')  # fmt: skip
    with pytest.raises(rt.RedteamError):  # undecodable bytes: a clear error, not a crash
        read_records(path)
    path.write_text('{"id": "a", "status": "pass"}\nnot json\n{"id": "a", "status": "fail"}\n{"id"')
    assert read_records(path) == {"a": {"id": "a", "status": "fail"}}
    assert read_records(tmp_path / "missing.jsonl") == {}


def test_reports_escape_hostile_responses() -> None:
    nasty = "<script>alert(1)</script>\x00\x1b[31m]]></failure>&amp; \ud800 🙂"
    record = {"id": "x" * 20, "probe": "p<1>", "category": "c&d", "pack": "k", "owasp": ["LLM01"],
              "atlas": [], "buff": "none", "prompt": nasty, "status": "fail", "response": nasty,
              "detections": [{"detector": "marker", "hit": True, "reason": nasty}],
              "error": "", "seconds": 0.1}  # fmt: skip
    summary = summarise([record], [Gate.parse("0")])
    root = ET.fromstring(to_junit([record], summary))  # noqa: S314 - our own output
    assert root.find(".//failure") is not None
    page = to_html([record], summary)
    assert "<script>alert" not in page
    sarif = json.loads(to_sarif([record], {"p<1>": {"owasp": ["LLM01"], "atlas": []}}))
    assert sarif["runs"][0]["results"][0]["ruleId"] == "p<1>"


def test_public_api_is_pinned() -> None:
    assert sorted(rt.__all__) == sorted([
        "BUFFS", "DETECTORS", "OWASP_LLM_2025", "Attempt", "Buff", "CallableTarget",
        "DetectContext", "Detection", "Detector", "Gate", "HttpTarget", "LlmJudge", "Message",
        "Probe", "RedteamError", "Request", "Response", "RunConfig", "RunResult", "Status",
        "Target", "TargetError", "ToolCall", "Variant", "compare", "load_probes", "plan",
        "read_records", "run", "run_async", "summarise", "variants",
    ])  # fmt: skip
    for name in rt.__all__:
        assert getattr(rt, name) is not None
