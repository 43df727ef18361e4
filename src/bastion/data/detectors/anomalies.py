"""Outliers in length, writing system and form, against the dataset's own distribution.

Pass 1 samples (reservoir) the log-lengths of prompts and responses and counts the
writing system of each response. Pass 2 flags rows whose log-length is more than
``z_max`` robust z-scores (median and MAD) from the median (LOW), responses in a
script fewer than ``rare_script`` of the rows use and that differs from the prompt's
(LOW), empty responses in a dataset that has responses (LOW), and degenerate
responses, the same few words or one character over and over (MEDIUM: a classic
backdoor payload and a sign of a broken generator).
"""

from __future__ import annotations

import math
from typing import ClassVar

from bastion.data._features import script
from bastion.data._stats import Reservoir
from bastion.data.base import DataFinding, Row
from bastion.data.detectors._collect import MAX_ROWS, Rows
from bastion.models import Severity


class Anomalies:
    """Length, language (script) and format outliers; degenerate responses."""

    name: ClassVar[str] = "anomalies"
    #: The most passes it takes (the engine keeps a small dataset in memory for more than 1).
    passes: ClassVar[int] = 2
    #: Pass 2 needs nothing pass 1 computed: reading the file again costs no more than
    #: keeping its rows (measured), and keeps memory flat.
    reuses_rows: ClassVar[bool] = False

    def __init__(
        self, *, z_max: float = 6.0, rare_script: float = 0.01, max_rows: int = MAX_ROWS
    ) -> None:
        self.z_max = z_max
        self.rare_script = rare_script
        self.prompt_len = Reservoir()
        self.response_len = Reservoir()
        self.scripts: dict[str, int] = {}
        self.rows = 0
        self.with_response = 0
        self.groups = {k: Rows(max_rows) for k in ("length", "script", "empty", "degenerate")}
        self._pass = 1
        self._limits: tuple[float, float, float, float] = (0.0, math.inf, 0.0, math.inf)
        self._rare: set[str] = set()

    def begin(self, pass_no: int) -> bool:
        self._pass = pass_no
        if pass_no == 2:
            pm, pd = self.prompt_len.median_mad()
            rm, rd = self.response_len.median_mad()
            pd, rd = max(pd, 0.25), max(rd, 0.25)  # lengths in log space; floor the spread
            self._limits = (
                pm - self.z_max * pd,
                pm + self.z_max * pd,
                rm - self.z_max * rd,
                rm + self.z_max * rd,
            )
            cut = self.rows * self.rare_script
            self._rare = {
                s for s, n in self.scripts.items() if n < cut and s not in ("none", "symbols")
            }
        return pass_no in (1, 2)

    def observe(self, row: Row) -> None:
        record = row.record
        plen = math.log1p(len(record.prompt))
        rlen = math.log1p(len(record.response))
        if self._pass == 1:
            self.rows += 1
            self.prompt_len.add(plen)
            if record.response:
                self.with_response += 1
                self.response_len.add(rlen)
                s = script(record.response)
                self.scripts[s] = self.scripts.get(s, 0) + 1
            return
        if not record.response:
            if self.with_response * 2 > self.rows:
                self.groups["empty"].add(record)
            return
        if row.degenerate:
            self.groups["degenerate"].add(record)
        plo, phi, rlo, rhi = self._limits
        if not (plo <= plen <= phi and rlo <= rlen <= rhi):
            self.groups["length"].add(record)
        if self._rare:
            s = script(record.response)
            if s in self._rare and s != script(record.prompt):
                self.groups["script"].add(record)

    def findings(self) -> list[DataFinding]:
        texts = {
            "degenerate": (
                Severity.MEDIUM,
                "degenerate responses (a few words or one character repeated)",
                0.7,
            ),
            "length": (
                Severity.LOW,
                f"lengths more than {self.z_max} robust z-scores from the median",
                0.3,
            ),
            "script": (
                Severity.LOW,
                "responses in a writing system rare in this dataset and unlike the prompt's",
                0.3,
            ),
            "empty": (Severity.LOW, "empty responses", 0.3),
        }
        out = []
        for kind, rows in self.groups.items():
            if rows.count:
                severity, what, score = texts[kind]
                evidence = {"scripts": dict(self.scripts)} if kind == "script" else {}
                out.append(
                    rows.finding(
                        f"anomaly.{kind}", severity, f"{rows.count} row(s): {what}", score, evidence
                    )
                )
        return out
