"""The PKCS#11 provider against a real SoftHSM2 token: wrap, unwrap, rotate, non-extractable."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from bastion.crypto.envelope import new_data_key
from bastion.crypto.kek import KeyProvider, KeyProviderError, Pkcs11Provider, WrappedKey, rewrap
from bastion.errors import IntegrityError
from tests.crypto.kek.conftest import Token


def provider(token: Token, key_id: str) -> Pkcs11Provider:
    return Pkcs11Provider(
        module=token.module, token_label=token.label, pin=token.pin, key_id=key_id
    )


def test_wrap_unwrap_rotate_rewrap(softhsm_token: Token, key_id: str) -> None:
    hsm = provider(softhsm_token, key_id)
    assert isinstance(hsm, KeyProvider)
    assert hsm.current().version == 1  # generated on the token on first use
    data_key = new_data_key()
    v1 = hsm.wrap(data_key, context=b"blob-1")
    assert (v1.key_id, v1.version) == (key_id, 1)
    assert data_key not in v1.ciphertext
    assert hsm.unwrap(v1, context=b"blob-1") == data_key

    assert hsm.rotate().version == 2
    assert hsm.current().version == 2
    v2 = rewrap(v1, hsm, context=b"blob-1")
    assert v2.version == 2
    assert v2.ciphertext != v1.ciphertext
    assert hsm.unwrap(v2, context=b"blob-1") == data_key
    assert hsm.unwrap(v1, context=b"blob-1") == data_key  # old versions stay for unwrap
    assert hsm.wrap(data_key, context=b"x").version == 2
    hsm.close()


def test_keys_are_sensitive_and_never_extractable(softhsm_token: Token, key_id: str) -> None:
    from pkcs11 import Attribute
    from pkcs11.exceptions import AttributeSensitive

    hsm = provider(softhsm_token, key_id)
    hsm.rotate()
    keys = hsm._versions()
    assert sorted(keys) == [1]
    for key in keys.values():
        assert key[Attribute.EXTRACTABLE] is False
        assert key[Attribute.SENSITIVE] is True
        assert key[Attribute.NEVER_EXTRACTABLE] is True
        assert key[Attribute.TOKEN] is True
        assert key[Attribute.LABEL] == f"{key_id}:v1"
        with pytest.raises(AttributeSensitive):
            key[Attribute.VALUE]
    hsm.close()


def test_tampering_and_wrong_context_raise(softhsm_token: Token, key_id: str) -> None:
    hsm = provider(softhsm_token, key_id)
    data_key = new_data_key()
    wrapped = hsm.wrap(data_key, context=b"blob-1")
    with pytest.raises(IntegrityError):
        hsm.unwrap(wrapped, context=b"blob-2")
    flipped = bytearray(wrapped.ciphertext)
    flipped[20] ^= 1
    with pytest.raises(IntegrityError):
        hsm.unwrap(WrappedKey(key_id, 1, bytes(flipped)), context=b"blob-1")
    with pytest.raises(IntegrityError, match="not on the token"):
        hsm.unwrap(WrappedKey(key_id, 7, wrapped.ciphertext), context=b"blob-1")
    with pytest.raises(IntegrityError, match="not on the token"):
        hsm.unwrap(WrappedKey("other", 1, wrapped.ciphertext), context=b"blob-1")
    hsm.rotate()
    with pytest.raises(IntegrityError):  # relabelled to another version
        hsm.unwrap(WrappedKey(key_id, 2, wrapped.ciphertext), context=b"blob-1")
    with pytest.raises(IntegrityError, match="length"):
        hsm.unwrap(WrappedKey(key_id, 1, b"short"), context=b"blob-1")
    hsm.close()


def test_another_process_unwraps_with_the_token_alone(softhsm_token: Token, key_id: str) -> None:
    hsm = provider(softhsm_token, key_id)
    data_key = new_data_key()
    wrapped = hsm.wrap(data_key, context=b"ctx")
    hsm.close()
    script = textwrap.dedent(
        f"""
        import sys
        from bastion.crypto.kek import Pkcs11Provider, WrappedKey
        p = Pkcs11Provider(module={softhsm_token.module!r}, token_label={softhsm_token.label!r},
                           pin={softhsm_token.pin!r}, key_id={key_id!r})
        w = WrappedKey.from_bytes(bytes.fromhex(sys.argv[1]))
        sys.stdout.write(p.unwrap(w, context=b"ctx").hex())
        """
    )
    env = {**os.environ, "SOFTHSM2_CONF": str(softhsm_token.conf)}
    done = subprocess.run(
        [sys.executable, "-c", script, wrapped.to_bytes().hex()],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert bytes.fromhex(done.stdout) == data_key


def test_second_provider_shares_the_login_and_checks_the_pin(
    softhsm_token: Token, key_id: str
) -> None:
    first = provider(softhsm_token, key_id)
    second = provider(softhsm_token, key_id)
    wrapped = first.wrap(new_data_key(), context=b"c")
    first.close()
    first.close()  # idempotent
    assert len(second.unwrap(wrapped, context=b"c")) == 32  # still logged in
    with pytest.raises(KeyProviderError, match="wrong PIN"):
        Pkcs11Provider(
            module=softhsm_token.module, token_label=softhsm_token.label, pin="0000", key_id=key_id
        )
    second.close()


def test_setup_errors_are_key_provider_errors(softhsm_token: Token) -> None:
    module, absent, pin = softhsm_token.module, "absent", softhsm_token.pin
    with pytest.raises(KeyProviderError, match="NoSuchToken"):
        Pkcs11Provider(module=module, token_label=absent, pin=pin)
    with pytest.raises(KeyProviderError, match="cannot open"):
        Pkcs11Provider(module="/nonexistent/libpkcs11.so", token_label=absent, pin=pin)
    with pytest.raises(ValueError, match="key id"):
        Pkcs11Provider(module=module, token_label=absent, pin=pin, key_id="a:v1")
