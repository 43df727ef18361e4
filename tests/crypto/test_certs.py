"""Certificate chains: good chains verify; untrusted, broken or non-signing ones do not."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bastion.crypto import KeyFileError, certs
from bastion.errors import VerificationError
from tests.integrity.conftest import make_cert


@pytest.fixture(scope="module")
def chain() -> dict[str, object]:
    root_key = ec.generate_private_key(ec.SECP256R1())
    mid_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root = make_cert(root_key, "R", root_key, "R", ca=True)
    mid = make_cert(mid_key, "M", root_key, "R", ca=True)
    leaf = make_cert(leaf_key, "L", mid_key, "M", ca=False)
    no_sign = make_cert(leaf_key, "L2", mid_key, "M", ca=False, may_sign=False)
    not_ca = make_cert(mid_key, "M", root_key, "R", ca=False)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = make_cert(other_key, "O", other_key, "O", ca=True)
    return {
        "root": root, "mid": mid, "leaf": leaf, "leaf_key": leaf_key,
        "no_sign": no_sign, "not_ca": not_ca, "other": other,
    }  # fmt: skip


def test_chain_to_a_trusted_root_verifies(chain: dict[str, object]) -> None:
    key = certs.verify_chain([chain["leaf"], chain["mid"]], [chain["root"]])  # type: ignore[list-item]
    assert key == chain["leaf_key"].public_key()  # type: ignore[attr-defined]
    # The intermediate may be the anchor too.
    certs.verify_chain([chain["leaf"]], [chain["mid"]])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("bundle", "anchors", "message"),
    [
        (["leaf", "mid"], ["other"], "does not lead to a trusted"),
        (["leaf"], ["root"], "does not lead to a trusted"),
        (["no_sign", "mid"], ["root"], "not allowed to sign"),
        (["leaf", "not_ca"], ["root"], "not a CA"),
        (["leaf", "root"], ["root"], "not signed by the next"),
    ],
)
def test_bad_chains_are_refused(
    chain: dict[str, object], bundle: list[str], anchors: list[str], message: str
) -> None:
    with pytest.raises(VerificationError, match=message):
        certs.verify_chain([chain[b] for b in bundle], [chain[a] for a in anchors])  # type: ignore[misc]


def test_garbage_is_refused() -> None:
    with pytest.raises(VerificationError):
        certs.load_der(b"\x30\x03\x02\x01\x00")
    with pytest.raises(KeyFileError, match="PEM"):
        certs.load_pem_chain(b"no certificates here")
