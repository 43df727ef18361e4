"""TOTP codes (RFC 6238), enrolment artefacts and recovery codes."""

from __future__ import annotations

import base64
import io
from urllib.parse import parse_qs, urlparse

import png
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bastion.auth import totp

NOW = 1_800_000_015.0


def test_rfc6238_reference_vector() -> None:
    # RFC 6238 appendix B, SHA-1, T = 59 s: 94287082 (8 digits); its last 6 digits here.
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.code_at(secret, 59) == "287082"
    assert totp.matching_step(secret, "287082", now=59) == 1


def test_enrolment_uri_names_the_account_and_issuer() -> None:
    enrolment = totp.new_enrolment(account="alice", issuer="Bastion")
    uri = urlparse(enrolment.uri)
    assert (uri.scheme, uri.netloc, uri.path) == ("otpauth", "totp", "/Bastion:alice")
    query = parse_qs(uri.query)
    assert query["secret"] == [enrolment.secret]
    assert query["issuer"] == ["Bastion"]
    assert len(base64.b32decode(enrolment.secret)) == 20  # 160 bits


def test_qr_codes_for_terminal_and_png() -> None:
    enrolment = totp.new_enrolment(account="alice", issuer="Bastion")
    art = enrolment.qr_ascii()
    assert len(art.splitlines()) > 10
    assert set(art) <= set("█▀▄ \xa0\n")
    width, height, _, _ = png.Reader(file=io.BytesIO(enrolment.qr_png())).read()
    assert width == height > 20


@pytest.mark.parametrize(("offset", "accepted"), [(-60, False), (-30, True), (0, True),
                                                  (30, True), (60, False)])  # fmt: skip
def test_one_step_either_side_is_accepted(offset: int, accepted: bool) -> None:
    secret = totp.new_enrolment(account="a", issuer="b").secret
    code = totp.code_at(secret, NOW + offset)
    step = totp.matching_step(secret, code, now=NOW)
    if accepted:
        assert step == int((NOW + offset) // 30)
    else:
        assert step is None


def test_spaces_are_ignored_and_malformed_codes_refused() -> None:
    secret = totp.new_enrolment(account="a", issuer="b").secret
    code = totp.code_at(secret, NOW)
    assert totp.matching_step(secret, f" {code[:3]} {code[3:]} ", now=NOW) is not None
    for bad in ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦"]:
        assert totp.matching_step(secret, bad, now=NOW) is None


@given(st.text(max_size=40))
def test_any_text_as_a_code_never_crashes(code: str) -> None:
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # noqa: S105
    step = totp.matching_step(secret, code, now=NOW)
    assert step is None or totp.code_at(secret, step * 30) == code.strip().replace(" ", "")


def test_recovery_codes_are_unique_and_hashed_forgivingly() -> None:
    codes = totp.new_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    code = codes[0]
    assert len(code) == 17
    assert code.count("-") == 2
    h = totp.hash_recovery_code(code)
    assert h == totp.hash_recovery_code(code.upper().replace("-", " "))
    assert code not in h
    assert len(h) == 64
