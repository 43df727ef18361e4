"""The guard's extension point and its result types.

A guard rule is a small frozen dataclass whose fields are its options. It has a
``name``, the ``directions`` it applies to (a prompt going in, a response coming
out) and a ``check`` that returns a :class:`RuleResult`. Rules never read global
state: everything they need about the conversation (the protected system prompt,
its canary, the URL allowlist, the placeholder vault) is passed in a
:class:`Context`.

Spans in results index the text the rule was given, which after normalisation is
the normalised text (see :mod:`bastion.guard.unicode`).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, runtime_checkable

from bastion.models import Severity

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Direction(enum.StrEnum):
    """Which way the text travels: a prompt to the model or a response from it."""

    INPUT = "input"
    OUTPUT = "output"


class Action(enum.StrEnum):
    """What the pipeline does when a rule fires."""

    FLAG = "flag"
    REDACT = "redact"
    BLOCK = "block"


class Verdict(enum.IntEnum):
    """The pipeline's decision, ordered so that ``max`` picks the strictest.

    REDACT ranks below FLAG: a redaction fixes the text, a flag says the text is
    suspicious; both let the (redacted) text through, BLOCK does not.
    """

    ALLOW = 0
    REDACT = 1
    FLAG = 2
    BLOCK = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def for_action(cls, action: Action) -> Verdict:
        return {Action.FLAG: cls.FLAG, Action.REDACT: cls.REDACT, Action.BLOCK: cls.BLOCK}[action]


@dataclass(frozen=True, slots=True)
class Span:
    """A matched region ``text[start:end]`` and what it is (``email``, ``aws-key``...)."""

    start: int
    end: int
    label: str


@dataclass(frozen=True, slots=True)
class RuleResult:
    """What one rule found in one text.

    ``score`` is in [0, 1]; a rule fires (``triggered``) when its score reaches its
    threshold, and rules scale their scores so that threshold reads as 0.5.
    ``reason`` is a stable code (``prompt-injection``, ``secret.aws-key``...) that is
    safe to show to a client: it never contains the offending text. ``redacted`` is
    the text with the matched spans replaced, for rules that can redact. ``views``
    are decoded forms of the text (base64, hex...) that later rules check too.
    """

    rule: str
    triggered: bool
    score: float = 0.0
    reason: str = ""
    spans: tuple[Span, ...] = ()
    redacted: str | None = None
    views: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @classmethod
    def clean(cls, rule: str, score: float = 0.0) -> RuleResult:
        return cls(rule=rule, triggered=False, score=score)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "triggered": self.triggered,
            "score": round(self.score, 4),
            "reason": self.reason,
            "spans": [{"start": s.start, "end": s.end, "label": s.label} for s in self.spans],
        }


class PlaceholderVault:
    """Maps placeholders such as ``<EMAIL_1>`` to the values they replaced.

    The input side fills it when it swaps personal data for placeholders, the output
    side puts the values back with :meth:`restore`. One vault per conversation.
    """

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}
        self._by_placeholder: dict[str, str] = {}
        self._counts: dict[str, int] = {}

    def placeholder(self, kind: str, value: str) -> str:
        key = (kind, value)
        existing = self._by_value.get(key)
        if existing is not None:
            return existing
        n = self._counts.get(kind, 0) + 1
        self._counts[kind] = n
        token = f"<{kind.upper().replace('-', '_')}_{n}>"
        self._by_value[key] = token
        self._by_placeholder[token] = value
        return token

    def restore(self, text: str) -> str:
        for token, value in self._by_placeholder.items():
            text = text.replace(token, value)
        return text

    def __len__(self) -> int:
        return len(self._by_placeholder)


@dataclass(frozen=True, slots=True)
class Context:
    """What rules may know about the conversation besides the text itself.

    ``system_prompt`` and ``canary`` protect the application's prompt on the output
    side; ``url_allowlist`` names hosts a response may link or embed; ``vault`` holds
    PII placeholders; ``input_result`` is the verdict on the prompt that produced the
    response being checked.
    """

    system_prompt: str | None = None
    canary: str | None = None
    url_allowlist: tuple[str, ...] = ()
    vault: PlaceholderVault | None = None
    input_result: ScanResult | None = None


@runtime_checkable
class Rule(Protocol):
    """One check. Implementations are frozen dataclasses whose fields are options."""

    name: ClassVar[str]
    directions: ClassVar[frozenset[Direction]]

    def check(self, text: str, ctx: Context) -> RuleResult:
        """Examine ``text``; never raise for hostile content, only for bugs."""
        ...


@dataclass(frozen=True, slots=True)
class ScanResult:
    """The pipeline's answer for one text.

    ``text`` is what may travel on: the normalised text with redactions applied
    (equal to the input when nothing changed). When ``verdict`` is BLOCK the caller
    must not forward anything. ``score`` is the highest rule score; ``errors`` name
    rules that raised (each counted as a block when the step fails closed).
    """

    verdict: Verdict
    score: float
    text: str
    direction: Direction
    results: tuple[RuleResult, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def blocked(self) -> bool:
        return self.verdict is Verdict.BLOCK

    @property
    def flagged(self) -> bool:
        """Flagged or blocked; a redaction alone does not make a text suspicious."""
        return self.verdict >= Verdict.FLAG

    @property
    def triggered(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.results if r.triggered)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.reason for r in self.triggered if r.reason))

    @property
    def severity(self) -> Severity:
        return {
            Verdict.ALLOW: Severity.INFO,
            Verdict.REDACT: Severity.LOW,
            Verdict.FLAG: Severity.MEDIUM,
            Verdict.BLOCK: Severity.HIGH,
        }[self.verdict]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.label,
            "flagged": self.flagged,
            "score": round(self.score, 4),
            "rules": [r.rule for r in self.triggered],
            "reasons": list(self.reasons),
            "errors": list(self.errors),
            "results": [r.to_dict() for r in self.results],
        }
