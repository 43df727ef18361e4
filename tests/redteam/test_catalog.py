"""Probe packs: the shipped ones are complete and tagged; user packs extend and are validated."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.redteam import DETECTORS, OWASP_LLM_2025, RedteamError, load_probes
from bastion.redteam.catalog import parse_pack

CATEGORIES = {
    "prompt-injection-direct", "prompt-injection-indirect", "jailbreak",
    "system-prompt-extraction", "data-leakage", "harmful-content", "encoding-obfuscation",
    "markdown-exfiltration", "xss", "excessive-agency", "unbounded-consumption",
}  # fmt: skip


def test_shipped_packs_cover_every_category_with_tags() -> None:
    probes = load_probes()
    by_cat: dict[str, int] = {}
    for p in probes:
        by_cat[p.category] = by_cat.get(p.category, 0) + 1
        assert p.owasp, p.id
        assert all(o in OWASP_LLM_2025 for o in p.owasp), p.id
        assert p.atlas, p.id
        assert all(a.startswith("AML.T") for a in p.atlas), p.id
        assert p.goal, p.id
        if {"marker", "decoding"} & set(p.detectors):
            assert p.marker, p.id
    assert set(by_cat) == CATEGORIES
    assert all(n >= 3 for n in by_cat.values()), by_cat
    assert len({p.id for p in probes}) == len(probes)


def test_filters() -> None:
    assert {p.category for p in load_probes(categories=["xss"])} == {"xss"}
    assert {p.pack for p in load_probes(categories=["jailbreak"])} == {"jailbreak"}
    assert [p.id for p in load_probes(ids=["jb-dan"])] == ["jb-dan"]
    assert all(p.id.startswith("pi-") for p in load_probes(ids=["pi-*"]))
    with pytest.raises(RedteamError, match="no probes"):
        load_probes(categories=["nothing-like-this"])


def test_user_pack_extends(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text(
        "pack: mine\ncategory: custom\nowasp: [LLM01]\natlas: AML.T0051.000\ndetectors: [marker]\n"
        "probes:\n  - id: my-1\n    marker: MY-MARK-1\n    prompt: say MY-MARK-1\n",
        encoding="utf-8",
    )
    (tmp_path / "more.json").write_text(json.dumps({"probes": [
        {"id": "my-2", "category": "custom", "prompt": "hi", "detectors": ["refusal"]}]}),
        encoding="utf-8")  # fmt: skip
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    probes = load_probes(directories=[tmp_path], builtin=False)
    assert [(p.id, p.pack, p.atlas) for p in probes] == [
        ("my-1", "mine", ("AML.T0051.000",)), ("my-2", "more", ())]  # fmt: skip
    assert len(load_probes(directories=[tmp_path])) == len(load_probes()) + 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("probes: [{id: a, category: c, prompt: p, detectors: [nope]}]", "detectors must be"),
        ("probes: [{id: a, category: c, prompt: p, detectors: [marker], owasp: [LLM11]}]", "OWASP"),
        ("probes: [{id: a, category: c, prompt: p, detectors: [marker], atlas: [T1]}]", "ATLAS"),
        ("probes: [{id: a, category: c, prompt: '', detectors: [marker]}]", "prompt"),
        ("probes: [{id: 'a b', category: c, prompt: p, detectors: [marker]}]", "id must"),
        ("probes: [{id: a, category: c, prompt: p, detectors: [marker], run: x}]", "unknown field"),
        ("probes: [{id: a, category: c, prompt: p, detectors: [marker], buffable: 2}]", "buffable"),
        ("probes: {a: 1}", "'probes' list"),
        ("[1, 2", "not valid"),
        ("!!python/object/apply:os.system ['echo hi']", "not valid"),
    ],
)
def test_invalid_packs(text: str, message: str) -> None:
    with pytest.raises(RedteamError, match=message):
        parse_pack("x.yaml", text, DETECTORS)


def test_duplicate_ids_across_packs(tmp_path: Path) -> None:
    (tmp_path / "dup.yaml").write_text(
        "probes: [{id: jb-dan, category: c, prompt: p, detectors: [refusal]}]", encoding="utf-8"
    )
    with pytest.raises(RedteamError, match="jb-dan appears"):
        load_probes(directories=[tmp_path])


def test_missing_directory() -> None:
    with pytest.raises(RedteamError, match="does not exist"):
        load_probes(directories=[Path("/nonexistent/probes")])


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_hostile_pack_text_raises_only_redteam_errors(text: str) -> None:
    for name in ("x.yaml", "x.json"):
        with contextlib.suppress(RedteamError):
            parse_pack(name, text, DETECTORS)
