"""Measure the guard's input detectors on the labelled development set.

Usage::

    python bench/guard_eval.py [DATA_DIR] [--write docs/benchmarks-guard.md]

Needs the out-of-source classifier scores that ``python bench/train_guard.py --loso``
leaves in ``bench/out/`` (leave-one-source-out: each row is scored by a model trained
without its source family). Three views, each labelled in the output:

1. **Leave-one-source-out pipeline**: the default input pipeline's rules that are not
   trained (normalisation, decoding, patterns, length) run for real, and the
   classifier's verdict is its out-of-source score. The classifier's checks on decoded
   views are not part of the scores, so this slightly under-states the pipeline.
2. **Per held-out source family**: recall or false-positive rate of (1) per family.
3. **In-sample**: the full default pipeline with the shipped model, on rows it was
   trained on; optimistic, shown only to compare rules.

Positives are ``injection`` and ``jailbreak``; ``harmful`` rows are measured by the
``harmful`` model separately. Share-alike rows (not trained on) are included in the
evaluation as unseen data.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bastion.guard import Guard, Pipeline, load_policy  # noqa: E402
from bastion.guard.classifier import load_model  # noqa: E402
from train_guard import family  # noqa: E402

DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "guard"
POS = {"injection", "jailbreak"}
TRAINED = {"prompt-attack", "harmful"}


def metrics(pos: Sequence[bool], neg: Sequence[bool]) -> dict[str, float]:
    tp, fp = sum(pos), sum(neg)
    recall = tp / len(pos) if pos else math.nan
    precision = tp / (tp + fp) if tp + fp else math.nan
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else math.nan
    return {"precision": precision, "recall": recall, "f1": f1,
            "fpr": fp / len(neg) if neg else math.nan}  # fmt: skip


def recall_at_fpr(pos: Sequence[float], neg: Sequence[float], fpr: float = 0.01) -> float:
    if not pos or not neg:
        return math.nan
    s = sorted(neg, reverse=True)
    k = math.floor(fpr * len(s))
    thr = s[k] if k < len(s) else -math.inf
    return sum(p > thr for p in pos) / len(pos)


def fmt(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.3f}"


def load_rows(data: Path) -> list[dict[str, str]]:
    with (data / "dev.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--write", type=Path, default=None, help="markdown file to (re)write")
    ap.add_argument("--limit", type=int, default=0, help="only the first N rows (smoke test)")
    args = ap.parse_args(argv)
    rows = load_rows(args.data)
    if args.limit:
        rows = rows[: args.limit]
    md = evaluate(rows)
    print(md)
    if args.write:
        args.write.write_text(md + "\n", encoding="utf-8")
    return 0


def _untrained_pipeline() -> Pipeline:
    full = load_policy().input
    steps = [s for s in full.steps if s.rule.name not in TRAINED]
    return Pipeline(steps, direction=full.direction)


def _oos_by_row(rows: list[dict[str, str]], name: str) -> list[float | None]:
    """Out-of-source logits, matched to rows by (source, text order within source)."""
    path = ROOT / "bench" / "out" / f"guard_loso_{name}.jsonl"
    if not path.exists():
        raise SystemExit(f"{path} missing: run python bench/train_guard.py --loso first")
    by_source: dict[str, list[float]] = defaultdict(list)
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            by_source[r["source"]].append(float(r["score"]))
    seen: dict[str, int] = defaultdict(int)
    out: list[float | None] = []
    for row in rows:
        src = row["source"]
        if "CC-BY-SA" in row.get("licence", "") or row["label"] not in (*POS, "benign", "harmful"):
            out.append(None)
            continue
        lst = by_source.get(src, [])
        i = seen[src]
        seen[src] += 1
        out.append(lst[i] if i < len(lst) else None)
    return out


def evaluate(rows: list[dict[str, str]]) -> str:
    model = load_model("prompt_attack")
    thr = model.threshold
    oos = _oos_by_row(rows, "prompt_attack")
    untrained = _untrained_pipeline()
    guard = Guard.default()
    lines: list[str] = []
    # -- 1 and 2: leave-one-source-out ---------------------------------------
    pipe_pos: list[bool] = []
    pipe_neg: list[bool] = []
    cls_pos: list[float] = []
    cls_neg: list[float] = []
    comb_pos: list[float] = []
    comb_neg: list[float] = []
    rule_hits: dict[str, tuple[list[bool], list[bool]]] = defaultdict(lambda: ([], []))
    fam: dict[str, list[bool]] = defaultdict(list)
    sa_neg: list[bool] = []
    for row, logit in zip(rows, oos, strict=True):
        label = row["label"]
        if label == "harmful":
            continue
        res = untrained.scan(row["text"])
        heur = res.flagged
        heur_score = max((r.score for r in res.triggered if r.rule != "pii"), default=0.0)
        share_alike = "CC-BY-SA" in row.get("licence", "")
        if logit is None and not share_alike:
            continue
        # Share-alike rows were never trained on: the shipped model's score is out-of-sample.
        z = (logit - thr) if logit is not None else (model.best_window(res.text)[0] - thr)
        cls_score = 1 / (1 + math.exp(-max(-60, min(60, z))))
        flagged = heur or cls_score >= 0.5
        score = max(heur_score if heur else 0.0, cls_score)
        positive = label in POS
        (pipe_pos if positive else pipe_neg).append(flagged)
        (cls_pos if positive else cls_neg).append(cls_score)
        (comb_pos if positive else comb_neg).append(score)
        for r in res.results:
            if r.rule in ("unicode", "encoding", "length", "pii", "secrets"):
                continue
            rule_hits[r.rule][0 if positive else 1].append(r.triggered)
        rule_hits["prompt-attack"][0 if positive else 1].append(cls_score >= 0.5)
        fam[f"{family(row['source'])} ({label})"].append(flagged)
        if share_alike and not positive:
            sa_neg.append(flagged)
    lines += [
        "### Leave-one-source-out (injection + jailbreak vs benign)",
        "",
        f"{len(pipe_pos)} attack rows, {len(pipe_neg)} benign rows; each scored by a classifier"
        " trained without its source family.",
        "",
        "| detector | precision | recall | F1 | FPR | recall at 1% FPR |",
        "|---|---|---|---|---|---|",
    ]
    m = metrics(pipe_pos, pipe_neg)
    r1 = recall_at_fpr(comb_pos, comb_neg)
    lines.append(f"| default pipeline | {fmt(m['precision'])} | {fmt(m['recall'])} | "
                 f"{fmt(m['f1'])} | {fmt(m['fpr'])} | {fmt(r1)} |")  # fmt: skip
    for rule, (p, n) in sorted(rule_hits.items()):
        m = metrics(p, n)
        r1 = recall_at_fpr(cls_pos, cls_neg) if rule == "prompt-attack" else math.nan
        lines.append(f"| {rule} | {fmt(m['precision'])} | {fmt(m['recall'])} | {fmt(m['f1'])} |"
                     f" {fmt(m['fpr'])} | {fmt(r1)} |")  # fmt: skip
    lines += [
        "",
        f"Share-alike benign rows (never trained on, scored by the shipped model): "
        f"{len(sa_neg)} rows, FPR {fmt(sum(sa_neg) / len(sa_neg) if sa_neg else math.nan)}.",
        "",
        "### Per held-out source family (default pipeline)",
        "",
        "| source family (label) | rows | flagged |",
        "|---|---|---|",
    ]
    for name in sorted(fam):
        hits = fam[name]
        lines.append(f"| {name} | {len(hits)} | {sum(hits) / len(hits):.3f} |")
    # -- harmful model, out of source ----------------------------------------
    hoos = _oos_by_row(rows, "harmful")
    hmodel = load_model("harmful")
    hp = [s - hmodel.threshold >= 0 for r, s in zip(rows, hoos, strict=True)
          if s is not None and r["label"] == "harmful"]  # fmt: skip
    hn = [s - hmodel.threshold >= 0 for r, s in zip(rows, hoos, strict=True)
          if s is not None and r["label"] == "benign"]  # fmt: skip
    if hp:
        m = metrics(hp, hn)
        lines += [
            "",
            "### Harmful-request model, leave-one-source-out (harmful vs benign)",
            "",
            "| detector | precision | recall | F1 | FPR |",
            "|---|---|---|---|---|",
            f"| harmful | {fmt(m['precision'])} | {fmt(m['recall'])} | {fmt(m['f1'])} | "
            f"{fmt(m['fpr'])} |",
        ]
    # -- 3: in-sample, full pipeline ------------------------------------------
    full_pos: list[bool] = []
    full_neg: list[bool] = []
    per_rule: dict[str, tuple[list[bool], list[bool]]] = defaultdict(lambda: ([], []))
    for row in rows:
        if row["label"] == "harmful":
            continue
        res = guard.check_input(row["text"])
        positive = row["label"] in POS
        (full_pos if positive else full_neg).append(res.blocked)
        fired = {r.rule for r in res.triggered}
        for step in guard.policy.input.steps:
            per_rule[step.rule.name][0 if positive else 1].append(step.rule.name in fired)
    m = metrics(full_pos, full_neg)
    lines += [
        "",
        "### In-sample (shipped model on its own training rows; optimistic)",
        "",
        "| detector | precision | recall | F1 | FPR (fired on benign) |",
        "|---|---|---|---|---|",
        f"| default pipeline (blocked) | {fmt(m['precision'])} | {fmt(m['recall'])} | "
        f"{fmt(m['f1'])} | {fmt(m['fpr'])} |",
    ]
    for rule, (p, n) in per_rule.items():
        m = metrics(p, n)
        lines.append(f"| {rule} | {fmt(m['precision'])} | {fmt(m['recall'])} | {fmt(m['f1'])} |"
                     f" {fmt(m['fpr'])} |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
