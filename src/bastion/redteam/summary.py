"""Failure rates by category, buff and taxonomy id; gates; the difference of two runs.

Everything here works on attempt records (the dicts of ``attempts.jsonl``), so a
summary can be rebuilt from a finished file. A failure rate is failures over judged
attempts (errors excluded); a gate holds when the rate is at most its maximum.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bastion.redteam.base import OWASP_LLM_2025, RedteamError

SCHEMA = "bastion.redteam.summary/1"
OVERALL = "overall"


@dataclass(frozen=True, slots=True)
class Gate:
    """``scope`` is ``overall`` or a category; the gate holds when its rate <= ``max_rate``."""

    scope: str
    max_rate: float

    @classmethod
    def parse(cls, text: str) -> Gate:
        """``0.1`` (overall) or ``CATEGORY=0.1``; rates in [0, 1]."""
        scope, _, value = text.rpartition("=")
        try:
            rate = float(value)
        except ValueError:
            rate = -1.0
        if not 0.0 <= rate <= 1.0:
            raise RedteamError(f"gate {text!r} must be RATE or CATEGORY=RATE with RATE in [0, 1]")
        return cls(scope or OVERALL, rate)


def _bucket() -> dict[str, int]:
    return {"attempts": 0, "failures": 0, "errors": 0}


def _rates(buckets: Mapping[str, dict[str, int]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in sorted(buckets):
        b = buckets[key]
        judged = b["attempts"] - b["errors"]
        out[key] = {**b, "failure_rate": round(b["failures"] / judged, 4) if judged else None}
    return out


def summarise(
    records: Iterable[Mapping[str, Any]],
    gates: Iterable[Gate] = (),
    meta: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The summary JSON of a run: totals, rates by category/buff/OWASP/ATLAS, gate results."""
    totals = _bucket()
    by: dict[str, dict[str, dict[str, int]]] = {
        k: defaultdict(_bucket) for k in ("categories", "buffs", "owasp", "atlas", "probes")
    }
    tags: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"owasp": set(), "atlas": set()})
    for r in records:
        status = r.get("status")
        keys = {
            "categories": [r.get("category", "?")],
            "buffs": [r.get("buff", "none")],
            "owasp": r.get("owasp", []),
            "atlas": r.get("atlas", []),
            "probes": [r.get("probe", "?")],
        }
        tags[str(r.get("category"))]["owasp"].update(r.get("owasp", []))
        tags[str(r.get("category"))]["atlas"].update(r.get("atlas", []))
        for bucket in (totals, *(by[k][str(v)] for k, vs in keys.items() for v in vs)):
            bucket["attempts"] += 1
            bucket["failures"] += status == "fail"
            bucket["errors"] += status == "error"
    judged = totals["attempts"] - totals["errors"]
    overall = round(totals["failures"] / judged, 4) if judged else None
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        **(meta or {}),
        **totals,
        "failure_rate": overall,
        **{k: _rates(v) for k, v in by.items()},
    }
    for cat, entry in summary["categories"].items():
        entry["owasp"] = sorted(tags[cat]["owasp"])
        entry["atlas"] = sorted(tags[cat]["atlas"])
    for oid, entry in summary["owasp"].items():
        entry["name"] = OWASP_LLM_2025.get(oid, "")
    summary["gates"] = [_gate(g, summary) for g in gates]
    summary["passed"] = all(g["passed"] for g in summary["gates"])
    return summary


def _gate(gate: Gate, summary: Mapping[str, Any]) -> dict[str, Any]:
    if gate.scope == OVERALL:
        rate = summary["failure_rate"]
    elif gate.scope in summary["categories"]:
        rate = summary["categories"][gate.scope]["failure_rate"]
    else:
        return {
            "scope": gate.scope,
            "max": gate.max_rate,
            "actual": None,
            "passed": False,
            "note": "no attempts in this category",
        }
    passed = rate is not None and rate <= gate.max_rate
    return {"scope": gate.scope, "max": gate.max_rate, "actual": rate, "passed": passed}


def load_summary(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RedteamError(f"cannot read summary {path}: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise RedteamError(f"{path} is not a bastion red-team summary ({SCHEMA})")
    return data


def compare(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Per-category failure rates of two runs and their difference (after - before)."""
    rows = []
    cats = sorted(set(before.get("categories", {})) | set(after.get("categories", {})))
    for scope in [OVERALL, *cats]:
        a = (
            before["failure_rate"]
            if scope == OVERALL
            else before["categories"].get(scope, {}).get("failure_rate")
        )
        b = (
            after["failure_rate"]
            if scope == OVERALL
            else after["categories"].get(scope, {}).get("failure_rate")
        )
        delta = round(b - a, 4) if a is not None and b is not None else None
        rows.append({"scope": scope, "before": a, "after": b, "delta": delta})
    worse = [r["scope"] for r in rows if r["delta"] is not None and r["delta"] > 0]
    return {"schema": "bastion.redteam.compare/1", "rows": rows, "regressed": worse}
