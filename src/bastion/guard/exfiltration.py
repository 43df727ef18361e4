"""Data exfiltration through markdown images and links, and HTML/JS that would run.

A chat UI fetches a markdown image as soon as it renders it, so an image whose URL
points outside ``allowlist`` sends whatever is in the URL to a stranger without a
click: such images are blocked. Links are blocked when they carry data in the query
string (long or encoded values); plain links to other hosts fire only with
``links_outside_allowlist``. The HTML rule fires on markup that runs script or
navigates: script tags, event handlers, ``javascript:`` URLs, iframes, objects,
meta refreshes, forms.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import ClassVar

from bastion.guard.base import Context, Direction, RuleResult, Span
from bastion.guard.secrets import redact

_MD_IMAGE = re.compile(r"!\[[^\]\n]{0,500}\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_MD_LINK = re.compile(r"(?<!!)\[[^\]\n]{0,500}\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REF_DEF = re.compile(r"^\s*\[[^\]\n]+\]:\s*(\S+)", re.MULTILINE)
_HTML_IMG = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
#: A literal every match of each pattern contains: a pattern that starts with a
#: look-behind, ``^`` or a case-insensitive word is tried at every position, so it runs
#: only on text that has its literal.
_NEEDS: dict[re.Pattern[str], str] = {
    _MD_IMAGE: "](",
    _MD_LINK: "](",
    _REF_DEF: "]:",
    _HTML_IMG: "<",
}
_DATA_VALUE = re.compile(r"^[A-Za-z0-9+/=_%.-]{24,}$")

_ACTIVE_HTML: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("script", re.compile(r"<\s*script\b", re.IGNORECASE)),
    ("event-handler", re.compile(r"<[a-z][^>]*\s(?:on[a-z]{3,})\s*=", re.IGNORECASE)),
    ("javascript-url", re.compile(
        r"(?:href|src|action|formaction|data)\s*=\s*[\"']?\s*"
        r"(?:javascript|vbscript|data:text/html)\s*:?", re.IGNORECASE)),
    ("md-javascript-url", re.compile(r"\]\(\s*(?:javascript|vbscript):", re.IGNORECASE)),
    ("embed", re.compile(
        r"<\s*(?:iframe|object|embed|applet|frame|frameset|base)\b", re.IGNORECASE)),
    ("meta-refresh", re.compile(r"<\s*meta\b[^>]*http-equiv\s*=\s*[\"']?refresh", re.IGNORECASE)),
    ("form", re.compile(r"<\s*form\b", re.IGNORECASE)),
    ("svg-script", re.compile(r"<\s*svg\b[^>]*\bon\w+\s*=", re.IGNORECASE)),
)  # fmt: skip
#: Literals (not letters, so case does not matter) every match of each pattern contains.
_ACTIVE_NEEDS: dict[str, tuple[str, ...]] = {
    "script": ("<",),
    "event-handler": ("<", "="),
    "javascript-url": ("=",),
    "md-javascript-url": ("](", ":"),
    "embed": ("<",),
    "meta-refresh": ("<", "="),
    "form": ("<",),
    "svg-script": ("<", "="),
}


def host_allowed(url: str, allowlist: tuple[str, ...]) -> bool:
    """True for relative URLs and hosts equal to, or subdomains of, an allowlisted host."""
    parsed = urllib.parse.urlsplit(url)
    if not parsed.scheme and not parsed.netloc:
        return True
    host = (parsed.hostname or "").lower().rstrip(".")
    return any(host == h or host.endswith("." + h) for h in (a.lower() for a in allowlist))


def carries_data(url: str) -> bool:
    parsed = urllib.parse.urlsplit(url)
    values = [v for _, v in urllib.parse.parse_qsl(parsed.query, keep_blank_values=True)]
    if parsed.fragment:
        values.append(parsed.fragment)
    return len(parsed.query) > 100 or any(_DATA_VALUE.match(v) or len(v) > 48 for v in values)


@dataclass(frozen=True, slots=True)
class ExfiltrationRule:
    """Markdown/HTML images outside the allowlist; links that carry data out."""

    name: ClassVar[str] = "exfiltration"
    directions: ClassVar[frozenset[Direction]] = frozenset({Direction.OUTPUT})

    allowlist: tuple[str, ...] = ()
    links_outside_allowlist: bool = False

    def check(self, text: str, ctx: Context) -> RuleResult:
        allow = (*self.allowlist, *ctx.url_allowlist)
        spans: list[Span] = []
        for pattern in (_MD_IMAGE, _HTML_IMG):
            if _NEEDS[pattern] not in text:
                continue
            for m in pattern.finditer(text):
                if not host_allowed(m.group(1), allow):
                    spans.append(Span(m.start(), m.end(), "image"))
        for pattern in (_MD_LINK, _REF_DEF):
            if _NEEDS[pattern] not in text:
                continue
            for m in pattern.finditer(text):
                url = m.group(1)
                if host_allowed(url, allow):
                    continue
                if carries_data(url):
                    spans.append(Span(m.start(), m.end(), "link-with-data"))
                elif self.links_outside_allowlist:
                    spans.append(Span(m.start(), m.end(), "link"))
        if not spans:
            return RuleResult.clean(self.name)
        spans.sort(key=lambda s: s.start)
        return RuleResult(
            self.name, True, 0.95, "exfiltration." + spans[0].label, tuple(spans),
            redacted=redact(text, spans, "[removed {label}]"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ActiveContentRule:
    """HTML or JavaScript that a browser rendering the response would run."""

    name: ClassVar[str] = "active-content"
    directions: ClassVar[frozenset[Direction]] = frozenset({Direction.OUTPUT})

    def check(self, text: str, ctx: Context) -> RuleResult:
        if "<" not in text and "javascript" not in text.lower() and "script" not in text.lower():
            return RuleResult.clean(self.name)
        spans = [
            Span(m.start(), m.end(), kind)
            for kind, pattern in _ACTIVE_HTML
            if all(literal in text for literal in _ACTIVE_NEEDS[kind])
            for m in pattern.finditer(text)
        ]
        if not spans:
            return RuleResult.clean(self.name)
        spans.sort(key=lambda s: s.start)
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return RuleResult(
            self.name, True, 0.9, "active-content." + spans[0].label, tuple(spans),
            redacted=escaped,
        )  # fmt: skip
