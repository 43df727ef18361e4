"""Names, paths, references and policies that come from clients: clear errors, never crashes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.client._client import _repr_digest, _safe_path
from bastion.errors import VerificationError
from bastion.models import Severity
from bastion.registry.errors import BadRequest
from bastion.registry.names import Ref, check_path
from bastion.registry.policy import FileVerdict, NamespacePolicy, evaluate


@pytest.mark.parametrize(
    "path", ["../x", "/etc/passwd", "a//b", "a/./b", "", "a\\b", "a/../../b", "x\x00y"]
)
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(BadRequest):
        check_path(path)


@given(st.text(max_size=300))
def test_path_check_never_lets_traversal_through(text: str) -> None:
    try:
        checked = check_path(text)
    except BadRequest:
        return
    parts = checked.split("/")
    assert ".." not in parts
    assert "" not in parts
    assert not checked.startswith("/")
    _safe_path(checked)  # what the server accepts the client accepts too


@given(st.text(max_size=200))
def test_client_path_check(text: str) -> None:
    try:
        path = _safe_path(text)
    except VerificationError:
        return
    assert not path.is_absolute()
    assert ".." not in path.parts


@given(st.text(max_size=200))
def test_refs_parse_or_refuse(text: str) -> None:
    try:
        ref = Ref.parse(text)
    except BadRequest:
        return
    assert str(ref) == text


@given(st.text(max_size=200))
def test_repr_digest_parser(text: str) -> None:
    result = _repr_digest(text)
    assert result is None or len(result) % 2 == 0


def test_repr_digest_reads_sha256() -> None:
    assert _repr_digest("sha-512=:AAAA:, sha-256=:AAEC:") == "000102"


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "require_signature",
                "trusted_keys",
                "max_severity",
                "allowed_formats",
                "allow_unscanned",
                "other",
            ]
        ),
        st.one_of(
            st.booleans(),
            st.text(max_size=20),
            st.lists(st.text(max_size=10), max_size=3),
            st.integers(),
        ),
    )
)
def test_policies_parse_or_refuse(raw: dict) -> None:
    try:
        policy = NamespacePolicy.from_dict(raw)
    except BadRequest:
        return
    assert NamespacePolicy.from_json(policy.to_json()) == policy


def test_policy_verdicts() -> None:
    policy = NamespacePolicy(max_severity=Severity.LOW, allowed_formats=("safetensors",))
    clean = FileVerdict("m.safetensors", ("safetensors",), None, 0, False)
    assert evaluate(policy, [clean], signature=None, signature_problem=None) == []
    pickle = FileVerdict("m.pkl", ("pickle",), Severity.CRITICAL, 0, False)
    reasons = evaluate(policy, [clean, pickle], signature=None, signature_problem=None)
    assert any("critical" in r for r in reasons)
    assert any("format pickle is not allowed" in r for r in reasons)
    unknown = FileVerdict("notes.txt", (), None, 0, True)
    assert evaluate(NamespacePolicy(), [unknown], signature=None, signature_problem=None)
    assert (
        evaluate(
            NamespacePolicy(allow_unscanned=True), [unknown], signature=None, signature_problem=None
        )
        == []
    )
    with pytest.raises(BadRequest, match="trusted_keys"):
        NamespacePolicy.from_dict({"require_signature": True})
