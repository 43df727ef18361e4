"""Length limits in tokens, counted without a model-specific tokenizer.

The count approximates BPE tokenizers from above: one token per word piece of up to
four characters and one per punctuation mark, so a limit set in model tokens holds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from bastion.guard.base import Context, Direction, RuleResult

_PIECES = re.compile(r"\w{1,4}|[^\w\s]")


def count_tokens(text: str) -> int:
    """An upper-leaning estimate of the number of BPE tokens in ``text``."""
    return len(_PIECES.findall(text))


@dataclass(frozen=True, slots=True)
class LengthRule:
    """Fire when the text is longer than ``max_tokens``."""

    name: ClassVar[str] = "length"
    directions: ClassVar[frozenset[Direction]] = frozenset(Direction)

    max_tokens: int = 16_384

    def check(self, text: str, ctx: Context) -> RuleResult:
        # Cheap bound first: a text can't have more tokens than characters.
        if len(text) <= self.max_tokens:
            return RuleResult.clean(self.name)
        n = count_tokens(text)
        if n <= self.max_tokens:
            return RuleResult.clean(self.name)
        return RuleResult(
            self.name, True, 1.0, "length.max-tokens", details={"tokens": n, "max": self.max_tokens}
        )
