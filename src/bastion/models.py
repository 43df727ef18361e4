"""Frozen types shared by every layer: severities, locations and findings."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """How bad a finding is. Ordered, so ``>=`` compares as users expect."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r}; expected one of {names}") from None

    @property
    def label(self) -> str:
        return self.name.lower()


#: SARIF 2.1.0, shared by every report that writes it (scan, data, red team): the schema,
#: each severity's result level, and the ``security-severity`` score (0.0-10.0) by which
#: GitHub ranks alerts.
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL: Mapping[Severity, str] = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
SARIF_SCORE: Mapping[Severity, str] = {
    Severity.CRITICAL: "9.8",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}


@dataclass(frozen=True, slots=True)
class Location:
    """Where a finding sits: a file, the chain of archive members inside it, an offset.

    ``members`` runs from the outermost archive member to the innermost, so a pickle
    inside ``model.tar`` -> ``ckpt.pt`` -> ``archive/data.pkl`` has two names.
    ``offset`` is the byte offset inside the innermost stream, when known.
    """

    path: str
    members: tuple[str, ...] = ()
    offset: int | None = None

    def child(self, member: str) -> Location:
        return Location(self.path, (*self.members, member))

    def at(self, offset: int) -> Location:
        return Location(self.path, self.members, offset)

    def __str__(self) -> str:
        text = self.path + "".join(f"!{m}" for m in self.members)
        return text if self.offset is None else f"{text}@{self.offset}"


class Details(Mapping[str, Any]):
    """An immutable, hashable, picklable mapping of a finding's structured details."""

    __slots__ = ("_items",)
    _items: tuple[tuple[str, Any], ...]

    def __init__(self, items: Mapping[str, Any] | None = None, /, **kwargs: Any) -> None:
        merged = {**(items or {}), **kwargs}
        object.__setattr__(self, "_items", tuple(merged.items()))

    def __getitem__(self, key: str) -> Any:
        for k, v in self._items:
            if k == key:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Details is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return (Details, (dict(self._items),))

    def __repr__(self) -> str:
        return f"Details({dict(self._items)!r})"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a scanner reports. ``rule`` is a stable id such as ``pickle.dangerous-global``."""

    rule: str
    severity: Severity
    message: str
    location: Location
    details: Details = field(default_factory=Details)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "message": self.message,
            "path": self.location.path,
            "members": list(self.location.members),
            "offset": self.location.offset,
            "details": dict(self.details),
        }
