"""Password hashing and the password policy."""

from __future__ import annotations

import hashlib
import secrets
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.auth import breached
from bastion.auth.errors import AuthenticationFailed, PasswordRejected
from bastion.auth.passwords import Argon2Hasher, PasswordPolicy

POLICY = PasswordPolicy(min_length=12)


def cheap(**overrides: int) -> Argon2Hasher:
    params = {"time_cost": 1, "memory_kib": 64, "parallelism": 1} | overrides
    return Argon2Hasher(**params)


def test_hashes_are_argon2id_with_the_stated_parameters() -> None:
    encoded = cheap(time_cost=2, memory_kib=128).hash("correct battery staple horse")
    assert encoded.startswith("$argon2id$v=19$m=128,t=2,p=1$")


def test_verify_accepts_the_password_and_refuses_others() -> None:
    hasher = cheap()
    encoded = hasher.hash("correct battery staple horse")
    assert hasher.verify(encoded, "correct battery staple horse") is None
    with pytest.raises(AuthenticationFailed):
        hasher.verify(encoded, "correct battery staple hors")
    with pytest.raises(AuthenticationFailed):
        hasher.verify("not a hash", "anything")


def test_changed_parameters_ask_for_a_rehash() -> None:
    old = cheap().hash("correct battery staple horse")
    assert not cheap().needs_rehash(old)
    stronger = cheap(time_cost=2)
    assert stronger.needs_rehash(old)
    assert stronger.verify(old, "correct battery staple horse") is None  # old hashes still work
    assert stronger.needs_rehash("garbage")


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short-pw-1", "too short"),
        ("x" * 2000, "too long"),
        ("my-name-is-alice!!", "user name"),
        ("MY-NAME-IS-ALICE!!", "user name"),
        ("abababababababab", "too few"),
        ("password1234", "breached"),
        ("Password123456", "breached"),
        ("qwertyuiop12", "breached"),
        ("Summer2024!!!!", "breached"),  # a listed word decorated with digits and symbols
        ("P@ssw0rd!2024", "breached"),  # letter-for-symbol swaps
        ("dragondragondragon", "breached"),  # one listed word repeated
        ("1q2w3e4r5t6y", "breached"),  # long listed passwords exist too
    ],
)
def test_policy_rejects(password: str, rule: str) -> None:
    with pytest.raises(PasswordRejected, match=rule):
        POLICY.check(password, username="alice")


@pytest.mark.parametrize(
    "password",
    ["violet-anchor-ferris-71", "correct battery staple horse", "Tr0ub4dor&3-zebra-quilt"],
)
def test_policy_accepts_long_uncommon_passwords(password: str) -> None:
    assert POLICY.check(password, username="alice") is None


def test_minimum_length_is_tunable() -> None:
    with pytest.raises(PasswordRejected, match="at least 20"):
        PasswordPolicy(min_length=20).check("violet-anchor-ferris-71"[:19], username="bob")


def test_breached_list_is_sorted_unique_prefixes() -> None:
    data = breached._prefixes()
    items = [data[i : i + 4] for i in range(0, len(data), 4)]
    assert len(items) == breached.list_size() == 30_000
    assert items == sorted(set(items))
    top = hashlib.sha1(b"123456").digest()[:4]  # noqa: S324
    assert top in items


def test_false_positive_rate_is_what_the_docs_say() -> None:
    # 40,000 random 16-letter strings: each form has a 7e-6 chance; expect ~0.3 hits in all.
    alphabet = string.ascii_letters + string.digits
    hits = sum(
        breached.is_breached("".join(secrets.choice(alphabet) for _ in range(16)))
        for _ in range(40_000)
    )
    assert hits <= 5


@given(st.text(max_size=300), st.text(max_size=80))
def test_policy_never_crashes_on_any_text(password: str, username: str) -> None:
    outcome: str | None = None
    try:
        POLICY.check(password, username=username)
    except PasswordRejected as exc:
        outcome = exc.message
    assert outcome is None or outcome.startswith("password ")
