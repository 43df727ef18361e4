"""Property tests for the parsers of untrusted bytes: bundles and signed statements.

Random input never crashes (only VerificationError subclasses escape), and no mutation
of a real bundle is ever accepted as vouching for a different manifest.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.crypto import keys as k
from bastion.errors import VerificationError
from bastion.integrity import KeySigner, KeyVerifier, Manifest, sign_model
from bastion.integrity import bundle as bd
from bastion.integrity import statement as stm
from tests.integrity.conftest import make_model

KEY = k.generate()
VERIFIER = KeyVerifier(KEY.public_key())


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Manifest]:
    model = make_model(tmp_path_factory.mktemp("fuzz") / "model")
    sig = sign_model(model, KeySigner(KEY))
    data = sig.read_bytes()
    parsed = bd.decode(data)
    return data, stm.decode(parsed.payload)


def accepted(data: bytes) -> Manifest | None:
    """The manifest a verifier would accept from ``data``, or None if it refuses."""
    try:
        parsed = bd.decode(data)
        VERIFIER.verify(parsed)
        return stm.decode(parsed.payload)
    except VerificationError:
        return None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.binary(max_size=2000))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_bytes_never_verify(data: bytes) -> None:
    assert accepted(data) is None


@given(json_values)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_json_bundles_and_statements_raise_only_verification_errors(doc: Any) -> None:
    raw = json.dumps(doc).encode()
    assert accepted(raw) is None
    with pytest.raises(VerificationError):
        stm.decode(raw)


@given(data=st.data())
@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_mutated_bundles_never_vouch_for_another_manifest(
    signed: tuple[bytes, Manifest], data: st.DataObject
) -> None:
    original, manifest = signed
    index = data.draw(st.integers(0, len(original) - 1))
    value = data.draw(st.integers(0, 255))
    mutated = bytearray(original)
    mutated[index] = value
    result = accepted(bytes(mutated))
    assert result is None or result == manifest


@given(data=st.data())
@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_mutated_payloads_never_verify(signed: tuple[bytes, Manifest], data: st.DataObject) -> None:
    original, _ = signed
    doc = json.loads(original)
    payload = bytearray(base64.b64decode(doc["dsseEnvelope"]["payload"]))
    index = data.draw(st.integers(0, len(payload) - 1))
    payload[index] ^= data.draw(st.integers(1, 255))
    doc["dsseEnvelope"]["payload"] = base64.b64encode(bytes(payload)).decode()
    assert accepted(json.dumps(doc).encode()) is None


def test_truncations_never_verify(signed: tuple[bytes, Manifest]) -> None:
    original, _ = signed
    for cut in range(0, len(original), max(1, len(original) // 200)):
        assert accepted(original[:cut]) is None


def test_huge_manifest_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stm, "MAX_RESOURCES", 10)
    resources = [{"name": f"f{i}", "algorithm": "sha256", "digest": "00" * 32} for i in range(11)]
    doc = {
        "_type": stm.STATEMENT_TYPE,
        "subject": [{"name": "m", "digest": {"sha256": "00" * 32}}],
        "predicateType": stm.PREDICATE_TYPE,
        "predicate": {
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
            "resources": resources,
        },
    }
    with pytest.raises(stm.BadStatementError, match="limit 10"):
        stm.decode(json.dumps(doc).encode())


def test_huge_bundle_is_refused_before_parsing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bd, "MAX_BUNDLE_BYTES", 1000)
    big = tmp_path / "model.sig"
    big.write_bytes(b" " * 1001)
    with pytest.raises(bd.BadBundleError, match="over 1000 bytes"):
        bd.read(big)


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../up", "a/../b", "a//b", "", "a\x00b", "./a", "a/."]
)
def test_resource_names_must_be_relative_paths(name: str) -> None:
    import hashlib

    digest = "11" * 32
    doc = {
        "_type": stm.STATEMENT_TYPE,
        "subject": [
            {"name": "m", "digest": {"sha256": hashlib.sha256(bytes.fromhex(digest)).hexdigest()}}
        ],
        "predicateType": stm.PREDICATE_TYPE,
        "predicate": {
            "serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
            "resources": [{"name": name, "algorithm": "sha256", "digest": digest}],
        },
    }
    with pytest.raises(stm.BadStatementError):
        stm.decode(json.dumps(doc).encode())


def test_duplicate_keys_are_refused(signed: tuple[bytes, Manifest]) -> None:
    original, _ = signed
    doubled = original.replace(b'{"mediaType"', b'{"mediaType":"x","mediaType"', 1)
    with pytest.raises(bd.BadBundleError, match="duplicate"):
        bd.decode(doubled)
