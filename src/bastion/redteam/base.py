"""The red-team runner's extension points and its frozen result types.

Three Protocols: a :class:`Target` answers a :class:`Request` (an OpenAI-compatible
HTTP endpoint, or any Python callable); a :class:`Buff` turns one prompt into an
adversarial variant; a :class:`Detector` judges one response. Probes are data
(:class:`Probe`, read from the packs under ``probes/``), attempts and detections are
frozen dataclasses that serialise to one JSON line each.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, runtime_checkable

from bastion.errors import BastionError

_EMPTY: Mapping[str, Any] = MappingProxyType({})

#: OWASP Top 10 for LLM Applications 2025.
OWASP_LLM_2025: Mapping[str, str] = MappingProxyType(
    {
        "LLM01": "Prompt Injection",
        "LLM02": "Sensitive Information Disclosure",
        "LLM03": "Supply Chain",
        "LLM04": "Data and Model Poisoning",
        "LLM05": "Improper Output Handling",
        "LLM06": "Excessive Agency",
        "LLM07": "System Prompt Leakage",
        "LLM08": "Vector and Embedding Weaknesses",
        "LLM09": "Misinformation",
        "LLM10": "Unbounded Consumption",
    }
)


class RedteamError(BastionError):
    """A red-team run could not be set up or finished (bad probe pack, unusable target)."""

    hint = "Check the target URL and model, the probe files and the run's options."


class TargetError(RedteamError):
    """The target did not answer after the allowed retries."""

    hint = "Check that the target is up and that the URL, model and API key are right."


class Status(enum.StrEnum):
    """How an attempt ended: the attack worked (FAIL), did not (PASS), or no answer (ERROR)."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    FAIL = "fail"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True, slots=True)
class Request:
    """What a target is asked: chat messages, a token budget, tools it may call."""

    messages: tuple[Message, ...]
    max_tokens: int = 512
    temperature: float | None = None
    tools: tuple[str, ...] = ()

    @property
    def prompt(self) -> str:
        """The last user message: the attack."""
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: str = ""


@dataclass(frozen=True, slots=True)
class Response:
    """What a target answered. ``blocked`` names the filter that refused to answer at all
    (a guard in front of the model, a provider's content filter): the attack did not work."""

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    finish_reason: str = ""
    completion_tokens: int | None = None
    blocked: str = ""


@runtime_checkable
class Target(Protocol):
    """Something that answers prompts. ``send`` raises :class:`TargetError` when it cannot."""

    name: str

    async def send(self, request: Request) -> Response: ...


@dataclass(frozen=True, slots=True)
class Probe:
    """One attack prompt from a pack, tagged with the taxonomies it exercises.

    ``detectors`` name the checks that decide whether the attack worked; ``marker``
    is a string the attack asks the model to output (its presence, outside a refusal
    that quotes the attack, is the failure); ``tools`` lists tool names that must not
    be called.
    """

    id: str
    category: str
    prompt: str
    detectors: tuple[str, ...]
    owasp: tuple[str, ...] = ()
    atlas: tuple[str, ...] = ()
    pack: str = ""
    goal: str = ""
    marker: str | None = None
    tools: tuple[str, ...] = ()
    system: str | None = None
    buffable: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category,
            "pack": self.pack,
            "goal": self.goal,
            "owasp": list(self.owasp),
            "atlas": list(self.atlas),
            "detectors": list(self.detectors),
        }


@dataclass(frozen=True, slots=True)
class Variant:
    """A prompt as sent: the probe's own text, or a buff's rewrite of it."""

    prompt: str
    buff: str = "none"


@runtime_checkable
class Buff(Protocol):
    """A seeded rewrite of a prompt. Same seed and prompt, same variant."""

    name: ClassVar[str]

    def apply(self, prompt: str, rng: random.Random) -> str: ...


@dataclass(frozen=True, slots=True)
class DetectContext:
    """What detectors may know besides the response: the probe, the prompt sent, the canary."""

    probe: Probe
    prompt: str
    canary: str | None = None
    system_prompt: str | None = None
    max_tokens: int = 512


@dataclass(frozen=True, slots=True)
class Detection:
    """One detector's judgement: ``hit`` means the attack succeeded on this response."""

    detector: str
    hit: bool
    score: float = 0.0
    reason: str = ""
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "detector": self.detector,
            "hit": self.hit,
            "score": round(self.score, 4),
            "reason": self.reason,
        }
        if self.details:
            out["details"] = dict(self.details)
        return out


@runtime_checkable
class Detector(Protocol):
    """A check of one response. Never raises for hostile content."""

    name: ClassVar[str]

    def detect(self, response: Response, ctx: DetectContext) -> Detection: ...


@dataclass(frozen=True, slots=True)
class Attempt:
    """One prompt sent, its answer and the verdict: one line of ``attempts.jsonl``."""

    id: str
    probe: Probe
    variant: Variant
    status: Status
    response: str = ""
    detections: tuple[Detection, ...] = ()
    error: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.status is Status.FAIL

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "probe": self.probe.id,
            "category": self.probe.category,
            "pack": self.probe.pack,
            "owasp": list(self.probe.owasp),
            "atlas": list(self.probe.atlas),
            "buff": self.variant.buff,
            "prompt": self.variant.prompt,
            "status": self.status.value,
            "response": self.response,
            "detections": [d.to_dict() for d in self.detections],
            "error": self.error,
            "seconds": round(self.seconds, 4),
        }
