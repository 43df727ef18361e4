"""Personal data: e-mail addresses, phone numbers, payment cards, IBANs, US SSNs, IPs.

Checksums keep false positives down (Luhn for cards, mod 97 for IBANs). With
``mode = "redact"`` matches become ``[REDACTED:<kind>]``; with ``mode = "placeholder"``
they become ``<EMAIL_1>``-style placeholders kept in the context's vault, so the
output side can put the real values back (:meth:`PlaceholderVault.restore`) and the
model never sees them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from bastion.errors import PolicyError
from bastion.guard.base import Context, Direction, RuleResult, Span
from bastion.guard.secrets import redact


def _luhn(digits: str) -> bool:
    nums = [int(c) for c in digits if c.isdigit()]
    if not 13 <= len(nums) <= 19:
        return False
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def _iban(value: str) -> bool:
    s = value.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def _ip(value: str) -> bool:
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not (addr.is_private or addr.is_loopback or addr.is_unspecified or addr.is_reserved)


def _ssn(value: str) -> bool:
    area, group, serial = value.split("-")
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


PII_PATTERNS: tuple[tuple[str, re.Pattern[str], Callable[[str], bool] | None], ...] = (
    ("email", re.compile(
        r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), None),
    ("credit-card", re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), _luhn),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"), _iban),
    ("us-ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), _ssn),
    ("phone", re.compile(
        r"(?<![\w+])(?<!\d[ .-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])"
        r"\d{3,4}[ .-]\d{3,4}\b(?![ .-]?\d)"),
     None),
    ("ip-address", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), _ip),
)  # fmt: skip

#: The fewest digits a match of each pattern has, and a character it must contain:
#: necessary conditions checked before a pattern that starts with ``\b`` or a
#: look-behind is tried at every position of the text (about 5 µs per 200 characters).
_NEEDS: dict[str, tuple[int, str]] = {
    "email": (0, "@"),
    "credit-card": (13, ""),
    "iban": (2, ""),
    "us-ssn": (9, "-"),
    "phone": (8, ""),
    "ip-address": (4, "."),
}
_DIGIT = re.compile(r"\d")
#: A part every match of a pattern contains, found with a search that can skip ahead to a
#: digit or capital (a pattern that starts with ``\b`` or a look-behind cannot): the
#: pattern itself runs only on text that has one. Credit cards: 13 digits with single
#: separators; IBANs: country and check digits; SSNs: the whole shape; phones: the last
#: two groups; IPs: four dotted numbers.
_CORES: dict[str, re.Pattern[str]] = {
    "credit-card": re.compile(r"\d(?:[ -]?\d){12}"),
    "iban": re.compile(r"[A-Z]{2}\d{2}"),
    "us-ssn": re.compile(r"\d{3}-\d{2}-\d{4}"),
    "phone": re.compile(r"\d{3}[ .-]\d{3}"),
    "ip-address": re.compile(r"\d\.\d{1,3}\.\d{1,3}\.\d"),
}


def _digits(text: str) -> int:
    r"""How many characters ``\d`` matches (any Unicode decimal digit, as the patterns)."""
    if text.isascii():
        return sum(map(text.count, "0123456789"))
    return len(_DIGIT.findall(text))


MODES = ("detect", "redact", "placeholder")


def find_pii(text: str, kinds: tuple[str, ...] = ()) -> list[Span]:
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []
    digits = _digits(text)
    for kind, pattern, check in PII_PATTERNS:
        if kinds and kind not in kinds:
            continue
        least, char = _NEEDS[kind]
        if digits < least or (char and char not in text):
            continue
        core = _CORES.get(kind)
        if core is not None and core.search(text) is None:
            continue
        for m in pattern.finditer(text):
            if check is not None and not check(m.group()):
                continue
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            spans.append(Span(m.start(), m.end(), kind))
    return sorted(spans, key=lambda s: s.start)


@dataclass(frozen=True, slots=True)
class PIIRule:
    """Personal data: detect, redact, or swap for placeholders restorable on output."""

    name: ClassVar[str] = "pii"
    directions: ClassVar[frozenset[Direction]] = frozenset(Direction)

    mode: str = "redact"
    kinds: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise PolicyError(f"pii mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        known = {k for k, _, _ in PII_PATTERNS}
        if unknown := set(self.kinds) - known:
            raise PolicyError(f"unknown pii kinds: {', '.join(sorted(unknown))}")

    def check(self, text: str, ctx: Context) -> RuleResult:
        spans = find_pii(text, self.kinds)
        if not spans:
            return RuleResult.clean(self.name)
        redacted: str | None = None
        if self.mode == "redact":
            redacted = redact(text, spans)
        elif self.mode == "placeholder" and ctx.vault is not None:
            vault = ctx.vault
            parts: list[str] = []
            last = 0
            for s in spans:
                parts.append(text[last : s.start])
                parts.append(vault.placeholder(s.label, text[s.start : s.end]))
                last = s.end
            parts.append(text[last:])
            redacted = "".join(parts)
        elif self.mode == "placeholder":
            redacted = redact(text, spans)  # no vault to restore from: plain redaction
        return RuleResult(
            rule=self.name,
            triggered=True,
            score=0.9,
            reason="pii." + spans[0].label,
            spans=tuple(spans),
            redacted=redacted,
        )
