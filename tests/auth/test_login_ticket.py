"""The two-step login a web form uses: the password step's ticket, then the code."""

from __future__ import annotations

import pytest

from bastion.auth import totp
from bastion.auth.errors import AuthenticationFailed, MfaRequired
from bastion.auth.login import TICKET_SECONDS
from bastion.auth.secretbox import SecretBox
from bastion.auth.service import IdentityService
from bastion.auth.sessions import SessionScope
from tests.auth.conftest import OPERATOR, PASSWORD, Clock
from tests.auth.test_login import enrol


def _ticket(service: IdentityService) -> str:
    with pytest.raises(MfaRequired) as raised:
        service.login("alice", PASSWORD)
    assert raised.value.ticket
    return raised.value.ticket


def test_ticket_then_code_opens_a_full_session(service: IdentityService, clock: Clock) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    secret, _ = enrol(service, clock)
    ticket = _ticket(service)
    assert "alice" not in ticket  # sealed, not merely encoded
    issued = service.complete_login(ticket, totp.code_at(secret, clock()))
    assert issued.session.scope is SessionScope.FULL
    assert issued.session.mfa


def test_a_ticket_expires_and_needs_the_right_code(service: IdentityService, clock: Clock) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    secret, _ = enrol(service, clock)
    ticket = _ticket(service)
    with pytest.raises(AuthenticationFailed):
        service.complete_login(
            ticket, "000000" if totp.code_at(secret, clock()) != "000000" else "1"
        )
    clock.advance(TICKET_SECONDS + 1)
    with pytest.raises(AuthenticationFailed, match="took too long"):
        service.complete_login(ticket, totp.code_at(secret, clock()))


def test_a_forged_or_foreign_ticket_is_refused(service: IdentityService, clock: Clock) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    secret, _ = enrol(service, clock)
    foreign = SecretBox.generate().seal(
        '{"user": "alice", "epoch": 0, "exp": 9e18}', owner="login-ticket"
    )
    for ticket in ("", "v1:AAAA", foreign, _ticket(service)[:-4] + "AAAA"):
        with pytest.raises(AuthenticationFailed):
            service.complete_login(ticket, totp.code_at(secret, clock()))


def test_a_ticket_dies_with_a_mfa_reset(service: IdentityService, clock: Clock) -> None:
    service.create_user(OPERATOR, "alice", PASSWORD)
    secret, _ = enrol(service, clock)
    ticket = _ticket(service)
    service.reset_mfa(OPERATOR, "alice")
    with pytest.raises(AuthenticationFailed):
        service.complete_login(ticket, totp.code_at(secret, clock()))
