"""Frozen types shared by every layer: severities, locations and findings."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

_EMPTY: MappingProxyType[str, Any] = MappingProxyType({})


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


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a scanner reports. ``rule`` is a stable id such as ``pickle.dangerous-global``."""

    rule: str
    severity: Severity
    message: str
    location: Location
    details: MappingProxyType[str, Any] = field(default_factory=lambda: _EMPTY)

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
