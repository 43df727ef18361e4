"""Bounded collection of the rows behind a finding: indices (capped) and a few examples."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bastion.data.base import DataFinding, Example, Record
from bastion.models import Severity

#: Default cap on row indices kept per finding; the true count is always kept.
MAX_ROWS = 100_000
EXAMPLES = 3


class Rows:
    """The rows of one finding, as they stream by."""

    __slots__ = ("cap", "count", "examples", "indices")

    def __init__(self, cap: int = MAX_ROWS) -> None:
        self.cap = cap
        self.count = 0
        self.indices: list[int] = []
        self.examples: list[Example] = []

    def add(self, record: Record) -> None:
        self.count += 1
        if len(self.indices) < self.cap:
            self.indices.append(record.index)
        if len(self.examples) < EXAMPLES:
            self.examples.append(Example.of(record))

    def merged(self, other: Rows) -> Rows:
        """These rows and ``other``'s (disjoint), in index order."""
        out = Rows(self.cap)
        out.count = self.count + other.count
        out.indices = sorted(self.indices + other.indices)[: self.cap]
        out.examples = self.examples
        return out

    def finding(
        self,
        rule: str,
        severity: Severity,
        message: str,
        score: float,
        evidence: Mapping[str, Any],
    ) -> DataFinding:
        return DataFinding(
            rule=rule,
            severity=severity,
            message=message,
            rows=tuple(self.indices),
            score=max(0.0, min(1.0, score)),
            evidence=dict(evidence),
            examples=tuple(self.examples),
            row_count=self.count,
        )
