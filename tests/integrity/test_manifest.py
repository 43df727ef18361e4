"""Manifest comparison: the differences are exactly the files added, removed or changed."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.integrity import Manifest, ModelMismatchError, Resource, Serialization
from bastion.integrity.manifest import check, diff, sort_key

names = st.text("abc/-_.", min_size=1, max_size=8).filter(
    lambda n: all(p not in ("", ".", "..") for p in n.split("/"))
)
digests = st.binary(min_size=32, max_size=32)


def manifest(files: dict[str, bytes]) -> Manifest:
    return Manifest.build(
        "m", Serialization(), (Resource(n, "sha256", d) for n, d in files.items())
    )


@given(st.dictionaries(names, digests, max_size=10), st.data())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_diff_names_exactly_what_changed(before: dict[str, bytes], data: st.DataObject) -> None:
    after = dict(before)
    removed = set(data.draw(st.sets(st.sampled_from(sorted(before)))) if before else set())
    for name in removed:
        del after[name]
    changed = set()
    for name in sorted(after):
        if data.draw(st.booleans()):
            after[name] = bytes(b ^ 1 for b in after[name])
            changed.add(name)
    added = {n + "+new" for n in data.draw(st.sets(st.text("xy", min_size=1, max_size=3)))}
    added -= set(before)
    for name in added:
        after[name] = b"\0" * 32
    got = {(d.path, d.change) for d in diff(manifest(before), manifest(after))}
    want = (
        {(n, "removed") for n in removed}
        | {(n, "changed") for n in changed}
        | {(n, "added") for n in added}
    )
    assert got == want
    if want:
        with pytest.raises(ModelMismatchError):
            check(manifest(before), manifest(after))
    else:
        assert check(manifest(before), manifest(after)) is None


def test_algorithm_label_matters() -> None:
    a = Manifest.build("m", Serialization(), [Resource("f", "sha256", b"\1" * 32)])
    b = Manifest.build(
        "m", Serialization(hash_type="blake3"), [Resource("f", "blake3", b"\1" * 32)]
    )
    assert [(d.path, d.change) for d in diff(a, b)] == [("f", "changed")]


def test_order_is_by_path_components_like_model_signing() -> None:
    ordered = sorted(["a-b.txt", "a/x.txt", "a.txt", "b"], key=lambda n: sort_key(n, False))
    assert ordered == ["a/x.txt", "a-b.txt", "a.txt", "b"]
