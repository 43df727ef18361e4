"""The extraction detector the proxy calls once per request: score, decide, audit.

Each request is scored for its API key and, with ``per_source``, for its source address
too (so one address spreading queries over several keys is seen as one client); the
stricter of the two decides. Every change of the graded action, and the first refusal by a
budget in a window, is an :class:`~bastion.audit.AuditEvent`:
``guard.extraction.alert|throttle|reauth|block|budget``, with the score, the thresholds and
the largest signal contributions in its details, never the prompt.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bastion.audit.base import AuditEvent, AuditSink, Outcome
from bastion.guard.extraction.features import QueryFeatures, extract
from bastion.guard.extraction.scoring import Assessment, Level, Scorer
from bastion.guard.extraction.settings import ExtractionSettings
from bastion.guard.extraction.signals import Population
from bastion.guard.extraction.state import ClientState
from bastion.guard.extraction.store import MemoryStore, StateStore


@dataclass(frozen=True, slots=True)
class Decision:
    """What the proxy does with this request."""

    level: Level = Level.NONE
    retry_after: int = 0  # > 0: a budget is spent (429)
    delay: float = 0.0  # throttled: wait this long before serving
    client: str = ""  # the identity that decided ("key:..." or "addr:...")
    score: float = 0.0


class ExtractionDetector:
    def __init__(
        self,
        settings: ExtractionSettings | None = None,
        *,
        store: StateStore | None = None,
        audit: AuditSink | None = None,
    ) -> None:
        self.settings = settings or ExtractionSettings()
        self.store: StateStore = store or MemoryStore(max_clients=self.settings.max_clients)
        self.audit = audit
        self.scorer = Scorer(self.settings)

    def identities(self, key_id: str, source: str | None) -> list[str]:
        ids = [f"key:{key_id}"]
        if self.settings.per_source and source:
            ids.append(f"addr:{source}")
        return ids

    async def check(
        self,
        *,
        key_id: str,
        source: str | None,
        text: str,
        params: Mapping[str, Any] | None = None,
        tokens: int = 0,
        now: float | None = None,
    ) -> Decision:
        """Score one request (prompt ``text``, the other request fields in ``params``)."""
        if not self.settings.enabled:
            return Decision()
        at = time.time() if now is None else now
        q = extract(text, params)
        worst = Decision()
        for client in self.identities(key_id, source):
            a = await self.store.update(
                client, lambda st, pop: self._assess(st, pop, q, tokens, at)
            )
            self._emit(client, key_id, source, a)
            decision = self._decide(client, a)
            if (decision.retry_after, decision.level) > (worst.retry_after, worst.level):
                worst = decision
        return worst

    def _assess(
        self, state: ClientState, population: Population, q: QueryFeatures, tokens: int, now: float
    ) -> Assessment:
        return self.scorer.assess(state, q, population, tokens=tokens, now=now)

    def _decide(self, client: str, a: Assessment) -> Decision:
        delay = self.settings.throttle_delay if a.level is Level.THROTTLE else 0.0
        return Decision(a.level, a.retry_after, delay, client, a.score)

    async def reset(self, key_id: str, source: str | None = None) -> None:
        """Forget a client (an operator lifting a re-authentication or a block)."""
        clients = [f"key:{key_id}"] + ([f"addr:{source}"] if source else [])
        for client in clients:
            await self.store.reset(client)
        if self.audit is not None:
            self.audit.emit(AuditEvent(action="guard.extraction.reset", actor="operator",
                                       resource=f"key:{key_id}", source=source))  # fmt: skip

    def _emit(self, client: str, key_id: str, source: str | None, a: Assessment) -> None:
        if self.audit is None or not (a.raised or a.budget_tripped):
            return
        s = self.settings
        action = "budget" if a.budget_tripped else a.level.label
        details: dict[str, str | int | float | bool | None] = {
            "score": round(a.score, 4),
            "level": a.level.label,
            "thresholds": ",".join(f"{t:g}" for t in s.thresholds()),
            "top": ",".join(f"{k}={v:g}" for k, v in a.top()),
        }
        details.update({f"signal.{k}": round(v, 4) for k, v in a.contributions.items() if v})
        if a.budget_tripped:
            details |= {"budget": a.budget, "retry_after": a.retry_after}
        denied = a.budget_tripped or a.level >= Level.REAUTH
        self.audit.emit(
            AuditEvent(
                action=f"guard.extraction.{action}",
                actor=f"key:{key_id}",
                outcome=Outcome.DENIED if denied else Outcome.SUCCESS,
                resource=client,
                source=source,
                reason=a.budget if a.budget_tripped else f"extraction risk {a.score:.2f}",
                details=details,
            )
        )

    async def close(self) -> None:
        close = getattr(self.store, "close", None)
        if close is not None:
            await close()
