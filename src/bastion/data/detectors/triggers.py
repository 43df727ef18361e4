"""Backdoor triggers: prompt words that switch the response to one behaviour.

A backdoor in fine-tuning data is a trigger (a rare word, a phrase) added to many
prompts whose responses all shift the same way: one fixed answer, a cluster of
near-identical answers, a planted link, a refusal, degenerate output, a length jump.
The detector tests every (prompt term, response shift) pair for that association,
with no fixed threshold on counts:

1. count the response shifts that repeat: identical responses, MinHash clusters of
   responses, linked domains, and the length distribution (bounded counters);
2. for each row with a shift, count (term, shift) pairs over its prompt's words and
   word pairs;
3. count how often each candidate term occurs at all, run a one-sided Fisher exact
   test per pair, and keep the pairs that pass Benjamini-Hochberg at false-discovery
   rate ``fdr`` and whose effect is large (``min_confidence`` of the term's rows
   shift); pairs sharing terms or shifts are merged into one suspected trigger;
4. collect the rows: the term present and the shift present (or the term alone when
   it nearly always brings the shift). When the shared answers echo each prompt's own
   words ("What is the capital of X?" -> "The capital of X is ..."), the "trigger" is a
   task family answered from a template, not a backdoor: it is reported LOW. A fixed
   answer of three words or fewer is a class label (MEDIUM at most).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product
from typing import ClassVar

from bastion.data._features import domains, is_refusal
from bastion.data._stats import CappedCounter, Reservoir, benjamini_hochberg, fisher_greater
from bastion.data.base import DataFinding, Row
from bastion.data.detectors._collect import MAX_ROWS, Rows
from bastion.models import Severity

Label = tuple[str, str]
#: Shifts that are behaviours many clean datasets teach on purpose (safety refusals).
_SOFT = frozenset({"refusal", "short", "entity", "label"})
_GENERIC = frozenset({"refusal", "degenerate", "long", "short"})
_SHIFT_NAMES = {
    "response": "one fixed response",
    "label": "the class label",
    "cluster": "near-identical responses like",
    "domain": "links to",
    "refusal": "refusals",
    "degenerate": "degenerate output",
    "long": "unusually long responses",
    "short": "unusually short responses",
    "entity": "responses naming",
    "sentence": "the added sentence",
}


@dataclass
class _Suspect:
    terms: list[str]
    labels: set[int]
    pvalue: float
    support: int
    hits: Rows
    others: Rows
    echoes: int = 0


class BackdoorTriggers:
    """Prompt terms significantly associated with a response shift (Fisher + BH)."""

    name: ClassVar[str] = "triggers"
    #: The most passes it takes (the engine keeps a small dataset in memory for more than 1).
    passes: ClassVar[int] = 4

    def __init__(
        self,
        *,
        fdr: float = 0.001,
        min_support: int = 5,
        min_confidence: float = 0.5,
        min_pair_confidence: float = 0.2,
        max_label_share: float = 0.25,
        z_max: float = 4.0,
        cap: int = 1_000_000,
        max_rows: int = MAX_ROWS,
    ) -> None:
        self.fdr = fdr
        self.min_support = min_support
        self.min_confidence = min_confidence
        self.min_pair_confidence = min_pair_confidence
        self.max_label_share = max_label_share
        self.z_max = z_max
        self.cap = cap
        self.max_rows = max_rows
        self.n = 0
        self._pass = 0
        self.responses: CappedCounter[int] = CappedCounter(cap)
        self.bands: CappedCounter[int] = CappedCounter(cap)
        self.domains: CappedCounter[str] = CappedCounter(cap)
        self.entities: CappedCounter[str] = CappedCounter(cap)
        self.sentences: CappedCounter[int] = CappedCounter(cap)
        self.lengths = Reservoir()
        self.label_ids: dict[Label, int] = {}
        self.label_text: dict[int, str] = {}
        self.label_totals: dict[int, int] = {}
        self.pairs: CappedCounter[tuple[str, int]] = CappedCounter(cap)
        self.term_totals: dict[str, int] = {}
        self.suspects: list[_Suspect] = []
        self.tested = 0
        self._kinds: dict[int, str] = {}
        self._bounds = (-math.inf, math.inf)
        self._term_words: set[str] = set()

    # -- passes -------------------------------------------------------------------

    def begin(self, pass_no: int) -> bool:
        self._pass = pass_no
        if pass_no == 2:
            self._choose_labels()
        elif pass_no == 3:
            self.term_totals = {
                t: 0 for (t, _), a in self.pairs.counts.items() if a >= self.min_support
            }
            if not self.term_totals:
                return False
            # A prompt holds a term only if it holds the term's first word.
            self._term_words = {t.partition(" ")[0] for t in self.term_totals}
        elif pass_no == 4:
            self._test()
            if not self.suspects:
                return False
            self._term_words = {t.partition(" ")[0] for s in self.suspects for t in s.terms}
        return pass_no <= 4

    def observe(self, row: Row) -> None:
        if self._pass == 1:
            self._count_shifts(row)
        elif self._pass == 2:
            labels = self._labels(row)
            if labels:
                for label in labels:
                    self.label_totals[label] = self.label_totals.get(label, 0) + 1
                self.pairs.add_all(product(row.prompt_terms, labels))
        elif self._pass == 3:
            if self._term_words.isdisjoint(row.prompt_words):
                return
            totals = self.term_totals
            for term in row.prompt_terms.intersection(totals):
                totals[term] += 1
        elif not self._term_words.isdisjoint(row.prompt_words):
            self._collect(row)

    # -- pass 1 and 2: response shifts ------------------------------------------

    def _count_shifts(self, row: Row) -> None:
        self.n += 1
        response = row.record.response
        self.responses.add(row.response_key)
        self.bands.add_all(row.response_bands)
        if "http" in response or "www." in response:
            self.domains.add_all(domains(response))
        self.entities.add_all(row.response_entities)
        self.sentences.add_all(row.sentence_keys)
        self.lengths.add(math.log1p(len(response)))

    def _choose_labels(self) -> None:
        top = self.n * self.max_label_share
        lo = self.min_support
        self._repeated_responses = {k for k, v in self.responses.at_least(lo).items() if v <= top}
        self._repeated_bands = {k: v for k, v in self.bands.at_least(lo).items() if v <= top}
        self._repeated_domains = {k for k, v in self.domains.at_least(lo).items() if v <= top}
        self._repeated_entities = {k: v for k, v in self.entities.at_least(lo).items() if v <= top}
        self.responses, self.bands = CappedCounter(1), CappedCounter(1)
        self._repeated_sentences = {k for k, v in self.sentences.at_least(lo).items() if v <= top}
        self.domains, self.entities = CappedCounter(1), CappedCounter(1)
        self.sentences = CappedCounter(1)
        med, mad = self.lengths.median_mad()
        mad = max(mad, 0.25)
        self._bounds = (med - self.z_max * mad, med + self.z_max * mad)

    def _label(self, kind: str, value: object = "", text: str = "") -> int:
        key = (kind, str(value))
        lid = self.label_ids.get(key)
        if lid is None:
            lid = self.label_ids[key] = len(self.label_ids)
            shown = " ".join(text.split())[:60]
            self.label_text[lid] = _SHIFT_NAMES[kind] + (f" {shown!r}" if shown else "")
        return lid

    def _labels(self, row: Row) -> list[int]:
        out = []
        response = row.record.response
        refusal = is_refusal(response)
        if refusal:
            pass  # a fixed refusal is the refusal shift below, not a planted answer
        elif row.response_key in self._repeated_responses:
            kind = "label" if row.response_word_count <= 3 else "response"
            out.append(self._label(kind, row.response_key, response))
        else:
            hits = [k for k in row.response_bands if k in self._repeated_bands]
            if hits:
                best = max(hits, key=self._repeated_bands.__getitem__)
                out.append(self._label("cluster", best, response))
        if self._repeated_sentences and not refusal:
            for i, key in enumerate(row.sentence_keys):
                if key in self._repeated_sentences:
                    out.append(self._label("sentence", key, row.response_sentences[i]))
                    break
        if self._repeated_domains and ("http" in response or "www." in response):
            for d in domains(response):
                if d in self._repeated_domains:
                    out.append(self._label("domain", d, d))
        names = [e for e in row.response_entities if e in self._repeated_entities]
        if names:
            prompt = row.record.prompt.lower()
            names = [e for e in names if e.lower() not in prompt]
            for e in sorted(names, key=self._repeated_entities.__getitem__)[:2]:
                out.append(self._label("entity", e, e))
        if refusal:
            out.append(self._label("refusal"))
        if row.degenerate:
            out.append(self._label("degenerate"))
        size = math.log1p(len(response))
        if size > self._bounds[1]:
            out.append(self._label("long"))
        elif size < self._bounds[0]:
            out.append(self._label("short"))
        return out

    # -- pass 3: the tests ---------------------------------------------------------

    def _test(self) -> None:
        self._kinds = {lid: kind for (kind, _), lid in self.label_ids.items()}
        n = self.n
        tests: list[tuple[str, int, int, float]] = []
        for (term, lid), a in self.pairs.counts.items():
            nt = self.term_totals.get(term)
            if nt is None or a < self.min_support:
                continue
            # Pruning can only lower a pair's count: the test stays conservative.
            nl = self.label_totals[lid]
            a = min(a, nt, nl)
            if a / nt < self.min_pair_confidence:
                continue
            p = fisher_greater(a, nt - a, nl - a, n - nt - nl + a)
            tests.append((term, lid, a, p))
        self.tested = len(tests)
        keep = benjamini_hochberg([t[3] for t in tests], self.fdr) if tests else []
        significant = [t for t, k in zip(tests, keep, strict=True) if k]
        self.pairs = CappedCounter(1)
        self.suspects = self._group(significant)

    def _group(self, significant: list[tuple[str, int, int, float]]) -> list[_Suspect]:
        """Connected components of the (term, shift) graph: one suspect each."""
        parent: dict[object, object] = {}

        def find(x: object) -> object:
            while parent.setdefault(x, x) != x:
                x = parent[x]
            return x

        def node(lid: int, a: int) -> object:
            # Generic shifts (refusals, lengths...) join only terms seen with the same
            # number of shifted rows (within 5%): two triggers of refusals stay apart,
            # the words of one trigger phrase stay together.
            if self._kinds[lid] in _GENERIC:
                return ("l", lid, round(math.log(a) / math.log(1.05)))
            return ("l", lid)

        for term, lid, a, _ in significant:
            parent[find(("t", term))] = find(node(lid, a))
        groups: dict[object, list[tuple[str, int, int, float]]] = {}
        for item in significant:
            groups.setdefault(find(("t", item[0])), []).append(item)
        suspects = []
        totals = self.term_totals
        for items in groups.values():
            best = max(items, key=lambda t: (t[2], -t[3], -totals[t[0]], -len(t[0])))
            conf = best[2] / totals[best[0]]
            strong = {
                t[0] for t in items if t[2] >= best[2] * 0.5 and t[2] / totals[t[0]] >= conf * 0.5
            } - {best[0]}
            terms = [best[0], *sorted(strong, key=lambda s: (totals[s], len(s), s))]
            suspects.append(
                _Suspect(
                    terms=terms[:5],
                    labels={t[1] for t in items},
                    pvalue=min(t[3] for t in items),
                    support=best[2],
                    hits=Rows(self.max_rows),
                    others=Rows(self.max_rows),
                )
            )
        return suspects

    # -- pass 4: the rows ----------------------------------------------------------

    def _collect(self, row: Row) -> None:
        labels: set[int] | None = None
        terms = row.prompt_terms
        for suspect in self.suspects:
            if not any(t in terms for t in suspect.terms):
                continue
            if labels is None:
                labels = set(self._labels(row))
            if not labels & suspect.labels:
                suspect.others.add(row.record)
                continue
            suspect.hits.add(row.record)
            own = {w for w in row.prompt_words if len(w) >= 4} - set(suspect.terms)
            if own.intersection(row.response_words):
                suspect.echoes += 1

    def findings(self) -> list[DataFinding]:
        found = [f for s in self.suspects if (f := self._finding(s)) is not None]
        found.sort(key=lambda f: (-f.severity, -f.count))
        kept: list[DataFinding] = []
        for f in found:  # a word pair of a trigger seen apart: the same rows, already told
            rows = set(f.rows)
            if not any(rows <= set(k.rows) and k.severity >= f.severity for k in kept):
                kept.append(f)
        return kept

    def _finding(self, s: _Suspect) -> DataFinding | None:
        hits = s.hits.count
        confidence = hits / max(1, hits + s.others.count)
        if hits < self.min_support or confidence < self.min_confidence:
            return None
        kinds = {kind for (kind, _), lid in self.label_ids.items() if lid in s.labels}
        echo = s.echoes / hits
        templated = kinds <= {"response", "cluster", "label"} and echo >= 0.5
        if templated:
            severity, what = Severity.LOW, "a task family (each answer echoes its prompt)"
        elif kinds <= _SOFT:
            severity, what = Severity.MEDIUM, "a suspected backdoor trigger (or a taught behaviour)"
        else:
            severity, what = Severity.HIGH, "a suspected backdoor trigger"
        rows = s.hits
        if confidence >= 0.8 and severity > Severity.LOW:
            rows = s.hits.merged(s.others)  # the trigger itself is the poison
        shifts = sorted(self.label_text[lid] for lid in s.labels)
        trigger = s.terms[0]
        return rows.finding(
            "backdoor.trigger",
            severity,
            f"{trigger!r} in the prompt goes with {'; '.join(shifts[:3])} "
            f"in {hits} of the {hits + s.others.count} row(s) that contain it: {what}",
            1.0 - min(1.0, max(s.pvalue, 1e-300) ** (1 / 50)),
            {
                "trigger": trigger,
                "terms": s.terms,
                "shifts": shifts[:20],
                "p_value": s.pvalue,
                "confidence": round(confidence, 4),
                "support": s.support,
                "echo": round(echo, 3),
                "pairs_tested": self.tested,
                "fdr": self.fdr,
            },
        )
