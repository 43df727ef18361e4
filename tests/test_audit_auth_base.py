from __future__ import annotations

from datetime import datetime

import pytest

from bastion.audit import AuditEvent, MemoryAuditSink, Outcome
from bastion.auth import Principal, PrincipalKind, Role


def test_audit_events_are_frozen_and_need_aware_times() -> None:
    event = AuditEvent(action="auth.login", actor="user:alice", details={"mfa": True})
    with pytest.raises(TypeError):
        event.details["mfa"] = False  # type: ignore[index]
    with pytest.raises(ValueError, match="timezone"):
        AuditEvent(action="a", actor="b", time=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="action"):
        AuditEvent(action="", actor="b")


def test_memory_sink_keeps_order() -> None:
    sink = MemoryAuditSink()
    sink.emit(AuditEvent(action="x", actor="a", outcome=Outcome.DENIED))
    sink.emit(AuditEvent(action="y", actor="a"))
    assert sink.actions() == ["x", "y"]
    assert sink.events[0].outcome is Outcome.DENIED


def test_roles_rank_and_principal_ids() -> None:
    assert Role.READER.rank < Role.PUBLISHER.rank < Role.MAINTAINER.rank < Role.ADMIN.rank
    assert Principal(PrincipalKind.TOKEN, "9f2c").id == "token:9f2c"
