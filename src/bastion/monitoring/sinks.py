"""Compose sinks: one emit reaches the log, the metrics and the alert rules."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bastion.audit.base import AuditEvent, AuditSink

log = logging.getLogger(__name__)


class FanOutSink:
    """Sends each event to every sink in order; one failing sink never stops the rest
    (the failure is logged, and the first sink's error is raised after the others ran)."""

    def __init__(self, sinks: Sequence[AuditSink]) -> None:
        self.sinks = tuple(sinks)

    def emit(self, event: AuditEvent) -> None:
        first: Exception | None = None
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception as exc:
                log.warning("audit sink %s failed: %s", type(sink).__name__, exc)
                first = first or exc
        if first is not None:
            raise first
