"""The one-pass literal search the guard's prefilters use agrees with ``in``."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.guard.anchors import AnchorSet

LITERALS = ["ab", "abc", "b", "xyz", "<|", "é", "ignor"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcxyz<|éign or", max_size=40))
def test_found_is_exactly_the_literals_in_the_text(text: str) -> None:
    anchors = AnchorSet(LITERALS)
    expected = {literal for literal in LITERALS if literal in text}
    assert anchors.found(text) == expected
    assert anchors.any_in(text) == bool(expected)


def test_empty_sets_and_texts() -> None:
    assert not AnchorSet([]).any_in("anything")
    assert AnchorSet([]).found("anything") == set()
    assert not AnchorSet(["a"]).any_in("")
