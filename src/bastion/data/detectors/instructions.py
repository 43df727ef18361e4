"""Instructions aimed at the model, hidden in training data (the guard's pattern rules).

An override, a fake chat turn, a prompt-leak request or an exfiltration instruction in
a *response* teaches the model to emit it: HIGH. In a *prompt* it is normal in safety
data when the response refuses (not reported), suspicious when the response complies
(MEDIUM: the record teaches the model to obey the injection).
"""

from __future__ import annotations

from typing import ClassVar

from bastion.data._features import is_refusal
from bastion.data.base import DataFinding, Row
from bastion.data.detectors._collect import MAX_ROWS, Rows
from bastion.guard.anchors import AnchorSet
from bastion.guard.base import Context
from bastion.guard.patterns import KEYWORDS, InjectionPatterns, JailbreakPatterns
from bastion.models import Severity

_CTX = Context()
#: One pass over the text finds any keyword of any pattern (the guard's own prefilter
#: tries each pattern's words one by one); texts with none skip the rules entirely.
_KEYWORDS = AnchorSet(w for ws in KEYWORDS.values() for w in ws)


class HiddenInstructions:
    """Prompt-injection and jailbreak phrasings in prompts and responses."""

    name: ClassVar[str] = "instructions"
    #: The most passes it takes (the engine keeps a small dataset in memory for more than 1).
    passes: ClassVar[int] = 1

    def __init__(self, *, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self.rules = (InjectionPatterns(), JailbreakPatterns())
        self.groups: dict[str, Rows] = {}
        self.patterns: dict[str, dict[str, int]] = {}

    def begin(self, pass_no: int) -> bool:
        return pass_no == 1

    def _reasons(self, text: str) -> list[str]:
        if not _KEYWORDS.any_in(text.lower()):
            return []
        out: list[str] = []
        for rule in self.rules:
            result = rule.check(text, _CTX)
            if result.triggered:
                out.extend(dict.fromkeys(s.label for s in result.spans))
        return out

    def observe(self, row: Row) -> None:
        record = row.record
        self._add("response", self._reasons(record.response), row)
        prompt_reasons = self._reasons(record.prompt)
        if prompt_reasons and not is_refusal(record.response):
            self._add("prompt", prompt_reasons, row)

    def _add(self, field: str, reasons: list[str], row: Row) -> None:
        if not reasons:
            return
        self.groups.setdefault(field, Rows(self.max_rows)).add(row.record)
        counts = self.patterns.setdefault(field, {})
        for reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1

    def findings(self) -> list[DataFinding]:
        out = []
        for field, rows in sorted(self.groups.items(), reverse=True):
            counts = self.patterns[field]
            reason = ", ".join(sorted(counts, key=lambda k: -counts[k])[:3])
            if field == "response":
                severity, message = (
                    Severity.HIGH,
                    f"{rows.count} response(s) contain an instruction aimed at a model "
                    f"({reason}); training on them teaches the model to emit it",
                )
            else:
                severity, message = (
                    Severity.MEDIUM,
                    f"{rows.count} prompt(s) carry {reason} and the response complies; "
                    "training on them teaches the model to obey it",
                )
            out.append(
                rows.finding(
                    f"instructions.{field}",
                    severity,
                    message,
                    0.9 if field == "response" else 0.7,
                    {"patterns": dict(counts), "field": field},
                )
            )
        return out
