"""Typed audit events and the sink Protocol every emitter writes to.

An event says who did what to which resource, from where, with what outcome and why.
Secrets and prompt text never go in: emitters pass identifiers, digests or redacted
excerpts in ``details``. Features receive an :class:`AuditSink` explicitly and never
reach for a global log.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

DetailValue = str | int | float | bool | None


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"  # the action was attempted and failed (bad password, bad upload)
    DENIED = "denied"  # authorization refused it


def _frozen(details: Mapping[str, DetailValue]) -> Mapping[str, DetailValue]:
    return MappingProxyType(dict(details))


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One security-relevant action.

    ``action`` is a dotted name from a fixed vocabulary (``auth.login``,
    ``model.upload``, ``model.release``, ``key.rotate``, ``guard.block`` ...);
    ``actor`` is a principal id (``user:alice``, ``token:9f2c``) or ``anonymous``.
    """

    action: str
    actor: str
    outcome: Outcome = Outcome.SUCCESS
    resource: str | None = None
    source: str | None = None  # client address or "cli"
    reason: str | None = None
    details: Mapping[str, DetailValue] = field(default_factory=dict)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if not self.action or not self.actor:
            raise ValueError("an audit event needs an action and an actor")
        if self.time.tzinfo is None:
            raise ValueError("audit event times must be timezone-aware")
        object.__setattr__(self, "details", _frozen(self.details))


class AuditSink(Protocol):
    """Where events go. Implementations must not block the caller for long."""

    def emit(self, event: AuditEvent) -> None: ...


class MemoryAuditSink:
    """Keeps events in a list: for tests and for tools that collect then report."""

    def __init__(self) -> None:
        self._events: list[AuditEvent] = []
        self._lock = threading.Lock()

    def emit(self, event: AuditEvent) -> None:
        with self._lock:
            self._events.append(event)

    @property
    def events(self) -> tuple[AuditEvent, ...]:
        with self._lock:
            return tuple(self._events)

    def actions(self) -> list[str]:
        return [e.action for e in self.events]
