"""A self-contained HTML report: no scripts, no external resources.

Bar charts are inline SVG; every string from a probe or a response goes through
``html.escape``, so a response that carries markup (the XSS probes ask for it) is shown,
never run. A Content-Security-Policy meta tag forbids scripts and remote loads too.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}table{border-collapse:collapse}
td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.pass{color:#1a7f37}.fail{color:#cf222e;font-weight:600}pre{white-space:pre-wrap;
word-break:break-word;background:#f6f8fa;padding:6px;margin:2px 0;max-height:16em;overflow:auto}
details{margin:6px 0}summary{cursor:pointer}"""
_BAR_H, _LABEL_W, _BAR_W = 22, 230, 520


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def bar_chart(rows: Mapping[str, Mapping[str, Any]], title: str) -> str:
    """An inline SVG of failure rates, one bar per key."""
    items = list(rows.items())
    height = _BAR_H * len(items) + 30
    width_all = _LABEL_W + _BAR_W + 70
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_all}" height="{height}" '
        f'role="img" aria-label="{_e(title)}">'
    ]
    x, bar_h = _LABEL_W, _BAR_H - 6
    for i, (name, row) in enumerate(items):
        y = 10 + i * _BAR_H
        rate = row.get("failure_rate")
        width = round((rate or 0.0) * _BAR_W, 1)
        color = "#cf222e" if rate else "#1a7f37"
        parts.append(
            f'<text x="{x - 6}" y="{y + 15}" text-anchor="end" font-size="12">{_e(name)}</text>'
            f'<rect x="{x}" y="{y + 3}" width="{_BAR_W}" height="{bar_h}" fill="#eee"/>'
            f'<rect x="{x}" y="{y + 3}" width="{width}" height="{bar_h}" fill="{color}"/>'
            f'<text x="{x + _BAR_W + 6}" y="{y + 15}" font-size="12">{_pct(rate)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _rate_cell(rate: float | None) -> str:
    return f'<td class="{"fail" if rate else "pass"}">{_pct(rate)}</td>'


def _table(rows: Mapping[str, Mapping[str, Any]], first: str, extra: str = "") -> str:
    name_head = "<th>name</th>" if extra else ""
    head = (
        f"<tr><th>{_e(first)}</th>{name_head}<th>attempts</th><th>failures</th><th>errors</th>"
        "<th>failure rate</th></tr>"
    )
    body = []
    for key, v in rows.items():
        name = f"<td>{_e(v.get(extra, ''))}</td>" if extra else ""
        body.append(
            f"<tr><td>{_e(key)}</td>{name}<td>{v['attempts']}</td><td>{v['failures']}</td>"
            f"<td>{v['errors']}</td>{_rate_cell(v.get('failure_rate'))}</tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _examples(records: Iterable[Mapping[str, Any]], per_category: int) -> str:
    shown: dict[str, int] = {}
    out = []
    for r in records:
        if r.get("status") != "fail":
            continue
        cat = str(r.get("category"))
        if shown.get(cat, 0) >= per_category:
            continue
        shown[cat] = shown.get(cat, 0) + 1
        why = "; ".join(
            f"{d['detector']}: {d['reason']}" for d in r.get("detections", []) if d.get("hit")
        )
        out.append(
            f"<details><summary><b>{_e(cat)}</b> · {_e(r.get('probe'))} · buff {_e(r.get('buff'))}"
            f' · <span class="fail">{_e(why)}</span></summary>'
            f"<div>prompt</div><pre>{_e(str(r.get('prompt', ''))[:4000])}</pre>"
            f"<div>response</div><pre>{_e(str(r.get('response', ''))[:4000])}</pre></details>"
        )
    return "".join(out) or "<p>No failed attempts.</p>"


_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def _gates(summary: Mapping[str, Any]) -> str:
    rows = []
    for g in summary.get("gates", []):
        state = '<td class="pass">holds</td>' if g["passed"] else '<td class="fail">FAILED</td>'
        rows.append(
            f"<tr><td>{_e(g['scope'])}</td><td>&le; {_pct(g['max'])}</td>"
            f"<td>{_pct(g['actual'])}</td>{state}</tr>"
        )
    if not rows:
        return "<p>No gates configured.</p>"
    head = "<tr><th>scope</th><th>max</th><th>actual</th><th></th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def to_html(
    records: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
    *,
    examples_per_category: int = 5,
) -> str:
    verdict = "all gates hold" if summary.get("passed") else "a gate failed"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>Bastion red-team report</title><style>{_CSS}</style></head><body>
<h1>Bastion red-team report</h1>
<p>Target <b>{_e(summary.get("target", ""))}</b> · seed {_e(summary.get("seed", ""))} ·
{summary["attempts"]} attempts · {summary["failures"]} failed · {summary["errors"]} errors ·
overall failure rate <b>{_pct(summary.get("failure_rate"))}</b> · {_e(verdict)}</p>
<h2>Gates</h2>{_gates(summary)}
<h2>Failure rate by category</h2>{bar_chart(summary["categories"], "failure rate by category")}
{_table(summary["categories"], "category")}
<h2>Failure rate by buff</h2>{bar_chart(summary["buffs"], "failure rate by buff")}
<h2>OWASP Top 10 for LLM Applications 2025</h2>{_table(summary["owasp"], "id", "name")}
<h2>MITRE ATLAS techniques</h2>{_table(summary["atlas"], "technique")}
<h2>Examples of failed attempts</h2>{_examples(records, examples_per_category)}
</body></html>
"""
