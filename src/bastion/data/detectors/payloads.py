"""Injected payloads: the same link or sentence planted in responses to unrelated prompts.

Pass 1 counts, in bounded memory, every URL, domain and long-enough sentence found in
responses. Pass 2 looks again at the ones seen in at least ``min_rows`` rows and keeps
those that appear in responses to at least ``min_prompts`` different prompts which do
not themselves mention the domain (an answer about python.org may link python.org;
an answer about soup should not). A repeated URL is an advertising or exfiltration
link (MEDIUM; HIGH when it carries data or templated parameters, as exfiltration
links do); a repeated sentence with a link or e-mail address in it is MEDIUM, one
without is boilerplate (LOW); a domain linked from unrelated answers with varying
paths is LOW.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import ClassVar

from bastion.data._features import EMAIL, URL, domain
from bastion.data._stats import CappedCounter
from bastion.data.base import DataFinding, Row
from bastion.data.detectors._collect import MAX_ROWS, Rows
from bastion.guard.exfiltration import carries_data
from bastion.models import Severity

_TEMPLATED = re.compile(r"[{}<>\[\]]|%7B|%3C|\$\{|=(?:\{|<|\[)", re.I)
#: Keys counted per pass-1 counter before the rarest are pruned.
CAP = 500_000
#: At most this many payload candidates are followed in pass 2.
MAX_CANDIDATES = 2_000


class _Candidate:
    __slots__ = ("kind", "prompts", "rows", "text")

    def __init__(self, kind: str, text: str, cap: int) -> None:
        self.kind = kind
        self.text = text
        self.rows = Rows(cap)
        self.prompts: set[int] = set()


class InjectedPayloads:
    """Links, domains and sentences repeated across responses to unrelated prompts."""

    name: ClassVar[str] = "payloads"
    #: The most passes it takes (the engine keeps a small dataset in memory for more than 1).
    passes: ClassVar[int] = 2

    def __init__(
        self, *, min_rows: int = 5, min_prompts: int = 3, max_rows: int = MAX_ROWS
    ) -> None:
        self.min_rows = min_rows
        self.min_prompts = min_prompts
        self.max_rows = max_rows
        self.counts: CappedCounter[int] = CappedCounter(CAP)
        self.candidates: dict[int, _Candidate] = {}
        self.rows_seen = 0

    def begin(self, pass_no: int) -> bool:
        if pass_no == 2:
            keep = sorted(self.counts.at_least(self.min_rows).items(), key=lambda kv: -kv[1])[
                :MAX_CANDIDATES
            ]
            self.candidates = {k: _Candidate("", "", self.max_rows) for k, _ in keep}
            self.counts = CappedCounter(1)
        return pass_no == 1 or (pass_no == 2 and bool(self.candidates))

    @staticmethod
    def _links(text: str) -> list[tuple[str, str]]:
        items: list[tuple[str, str]] = []
        if "http" in text or "www." in text:
            for m in URL.finditer(text):
                url = m.group().rstrip(".,;:!?")
                items.append(("url", url))
                host = domain(url)
                if host:
                    items.append(("domain", host))
        return items

    def _keys(self, row: Row) -> dict[int, None]:
        """One key per distinct link, domain and sentence of the response, in order: a
        sentence's is :attr:`Row.sentence_keys`, a link's or domain's the hash of (kind, text)."""
        links = self._links(row.record.response)
        if not links:
            return dict.fromkeys(row.sentence_keys)
        return dict.fromkeys([*map(hash, links), *row.sentence_keys])

    def observe(self, row: Row) -> None:
        if not self.candidates:
            self.rows_seen += 1
            self.counts.add_all(self._keys(row))
            return
        candidates = self.candidates.keys()
        # Most rows hold no candidate: the sentence keys are kept from pass 1, and the
        # links are looked for only in a response that can have one.
        if candidates.isdisjoint(row.sentence_keys):
            response = row.record.response
            if "http" not in response and "www." not in response:
                return
            if candidates.isdisjoint(map(hash, self._links(response))):
                return
        prompt = row.record.prompt.lower()
        items = self._links(row.record.response)
        items.extend(("sentence", s) for s in row.response_sentences)
        for item in dict.fromkeys(items):
            kind, text = item
            cand = self.candidates.get(hash(text) if kind == "sentence" else hash(item))
            if cand is None:
                continue
            if kind != "sentence" and _related(text, prompt):
                continue  # the prompt is about that site or page: a related answer
            cand.kind = kind
            cand.text = text
            cand.rows.add(row.record)
            if len(cand.prompts) < 64:
                cand.prompts.add(row.prompt_key)

    def findings(self) -> list[DataFinding]:
        out: list[DataFinding] = []
        urls = {c.text for c in self.candidates.values() if c.kind == "url" and self._kept(c)}
        for cand in self.candidates.values():
            if not self._kept(cand):
                continue
            if cand.kind == "domain" and any(domain(u) == cand.text for u in urls):
                continue  # reported as the URL itself
            out.append(self._finding(cand))
        return out

    def _kept(self, cand: _Candidate) -> bool:
        return cand.rows.count >= self.min_rows and len(cand.prompts) >= self.min_prompts

    def _finding(self, cand: _Candidate) -> DataFinding:
        n = cand.rows.count
        share = n / max(1, self.rows_seen)
        evidence = {
            "text": cand.text[:300],
            "distinct_prompts": len(cand.prompts),
            "share": round(share, 5),
        }
        if cand.kind == "url":
            exfil = carries_data(cand.text) or _TEMPLATED.search(cand.text) is not None
            return cand.rows.finding(
                "payload.exfil-link" if exfil else "payload.link",
                Severity.HIGH if exfil else Severity.MEDIUM,
                f"the link {cand.text[:120]} appears in {n} responses to unrelated prompts"
                + (" and carries data in its URL (exfiltration)" if exfil else " (advertising?)"),
                0.9 if exfil else 0.7,
                evidence,
            )
        if cand.kind == "domain":
            return cand.rows.finding(
                "payload.domain",
                Severity.LOW,
                f"{cand.text} is linked from {n} responses to unrelated prompts",
                0.4,
                evidence,
            )
        promo = URL.search(cand.text) is not None or EMAIL.search(cand.text) is not None
        return cand.rows.finding(
            "payload.sentence",
            Severity.MEDIUM if promo else Severity.LOW,
            f"the same sentence ends up in {n} responses to unrelated prompts"
            + (" and points somewhere (a link or an address)" if promo else ""),
            0.7 if promo else 0.3,
            evidence,
        )


_PATH_WORD = re.compile(r"[a-z]{4,}")


def _related(url: str, prompt: str) -> bool:
    """The prompt names the link's host, or a word of its path (``wiki/Chess``: chess)."""
    host = domain(url)
    if host and host in prompt:
        return True
    try:
        path = urllib.parse.urlsplit(url if "://" in url else "http://" + url).path.lower()
    except ValueError:
        return False
    return any(w in prompt for w in _PATH_WORD.findall(path))
