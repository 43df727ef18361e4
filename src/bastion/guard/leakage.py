"""System-prompt leakage: canary tokens and word n-gram overlap with the protected prompt.

Put a canary (:func:`make_canary`) into the system prompt; a response that contains
it leaked the prompt. Without a canary, or when the model paraphrases around it, a
response that shares ``min_shared`` word ``n``-grams with the prompt, or at least
``min_fraction`` of the prompt's n-grams, is a leak too.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from bastion.guard.base import Context, Direction, RuleResult, Span

_WORDS = re.compile(r"\w+")


def make_canary() -> str:
    """A fresh random canary to embed in a system prompt."""
    return f"bst-canary-{secrets.token_hex(8)}"


@lru_cache(maxsize=256)
def _ngrams(text: str, n: int) -> frozenset[tuple[str, ...]]:
    words = _WORDS.findall(text.lower())
    return frozenset(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


@dataclass(frozen=True, slots=True)
class PromptLeakRule:
    """A response that reveals the protected system prompt."""

    name: ClassVar[str] = "prompt-leak"
    directions: ClassVar[frozenset[Direction]] = frozenset({Direction.OUTPUT})

    n: int = 5
    min_shared: int = 4
    min_fraction: float = 0.3

    def check(self, text: str, ctx: Context) -> RuleResult:
        if ctx.canary:
            at = text.find(ctx.canary)
            if at >= 0:
                span = Span(at, at + len(ctx.canary), "canary")
                return RuleResult(self.name, True, 1.0, "prompt-leak.canary", (span,))
        if not ctx.system_prompt:
            return RuleResult.clean(self.name)
        protected = _ngrams(ctx.system_prompt, self.n)
        if not protected:
            return RuleResult.clean(self.name)
        shared = len(_ngrams(text, self.n) & protected)
        fraction = shared / len(protected)
        if shared >= self.min_shared or fraction >= self.min_fraction:
            score = min(1.0, 0.5 + max(shared / (2 * self.min_shared), fraction))
            details = {"shared_ngrams": shared, "fraction": round(fraction, 3)}
            return RuleResult(self.name, True, score, "prompt-leak.overlap", details=details)
        return RuleResult.clean(self.name, min(0.49, fraction))
