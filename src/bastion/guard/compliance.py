"""Responses that comply with a request the input side flagged.

When the prompt was flagged as an attack or a harmful request but allowed through
(action ``flag``), the response must be a refusal; one that is not is blocked. A
refusal is recognised by its opening ("I can't", "I'm sorry, but", "As an AI...")
in the first ``head_chars`` characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from bastion.guard.base import Context, Direction, RuleResult

_REFUSAL = re.compile(
    r"\b(?:I\s*(?:can(?:'|no)t|cannot|won't|will\s+not|am\s+(?:not\s+able|unable)|'m\s+"
    r"(?:not\s+able|unable|sorry)|must\s+(?:decline|refuse)|do\s+not\s+feel\s+comfortable)|"
    r"(?:sorry|apologi[sz]e),?\s+(?:but\s+)?I|as\s+an\s+ai\b|not\s+able\s+to\s+(?:help|assist|"
    r"provide)|against\s+(?:my|the)\s+(?:guidelines|policy|policies)|can(?:'|no)t\s+(?:help|"
    r"assist)\s+with)",
    re.IGNORECASE,
)
ATTACK_RULES = ("prompt-attack", "harmful", "injection-patterns", "jailbreak-patterns")


def is_refusal(text: str, head_chars: int = 300) -> bool:
    return _REFUSAL.search(text[:head_chars]) is not None


@dataclass(frozen=True, slots=True)
class ComplianceRule:
    """Block a response that complies with a flagged attack or harmful request."""

    name: ClassVar[str] = "compliance"
    directions: ClassVar[frozenset[Direction]] = frozenset({Direction.OUTPUT})

    rules: tuple[str, ...] = ATTACK_RULES
    head_chars: int = 300
    min_chars: int = 40

    def check(self, text: str, ctx: Context) -> RuleResult:
        prior = ctx.input_result
        if prior is None:
            return RuleResult.clean(self.name)
        fired = [r.rule for r in prior.triggered if r.rule in self.rules]
        if not fired or len(text.strip()) < self.min_chars or is_refusal(text, self.head_chars):
            return RuleResult.clean(self.name)
        return RuleResult(
            self.name, True, 0.8, "compliance.flagged-request", details={"input_rules": fired}
        )
