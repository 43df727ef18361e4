"""The audit trail: typed security events, and where they go."""

from __future__ import annotations

from bastion.audit.base import AuditEvent, AuditSink, MemoryAuditSink, Outcome

__all__ = ["AuditEvent", "AuditSink", "MemoryAuditSink", "Outcome"]
