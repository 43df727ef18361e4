"""Measure the guard's input detectors on the labelled development set.

Usage::

    python bench/guard_eval.py [DATA_DIR] [--write docs/benchmarks-guard.md]

Needs the out-of-source classifier scores that ``python bench/train_guard.py --loso``
leaves in ``bench/out/`` (leave-one-source-out: each row is scored, text and decoded
views, by models trained without its source family). The rules that are not trained
(normalisation, decoding, patterns, length) run for real through the default input
pipeline; the two classifiers' verdicts are their out-of-source scores at the
shipped thresholds. Share-alike rows, never trained on, are scored by the shipped
models. Reported per rule, for the pipeline, and per held-out source family.

Positives are ``injection`` and ``jailbreak``; ``harmful`` rows are reported apart.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bastion.guard import Pipeline, load_policy  # noqa: E402
from bastion.guard.classifier import load_model  # noqa: E402
from train_guard import family  # noqa: E402

DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "guard"
POS = {"injection", "jailbreak"}
TRAINED = {"prompt-attack", "harmful"}
#: Rules written after reading the development rows (in-sample): the phrasing patterns, and
#: the adversarial-suffix rule, designed on the optimised suffixes of JailbreakBench.
PATTERN_RULES = {"injection-patterns", "jailbreak-patterns", "adversarial-suffix"}


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
    ap.add_argument(
        "--llm-guard-python",
        default=os.environ.get("LLM_GUARD_PYTHON"),
        help="an interpreter with llm-guard installed: its offline input scanners run on the"
        " same rows (default: $LLM_GUARD_PYTHON; not run without one)",
    )
    args = ap.parse_args(argv)
    rows = load_rows(args.data)
    if args.limit:
        rows = rows[: args.limit]
    md = HEADER + evaluate(rows, args.llm_guard_python)
    print(md)
    if args.write:
        args.write.write_text(md + "\n", encoding="utf-8")
    return 0


HEADER = """# Guard benchmarks

Reproduce: `python bench/train_guard.py --loso --jobs 2` (trains, writes the
out-of-source scores and the shipped models), `python bench/guard_eval.py --write
docs/benchmarks-guard.md`, then `python bench/guard_latency.py --write
docs/benchmarks-guard.md`. Data: `../shared/data/guard/dev.jsonl` (15,349 rows; see its
README). Target for the default offline pipeline: recall >= 0.85 on injection and
jailbreak at <= 2 % false positives on benign rows.

Peers: LLM Guard's offline input scanners (invisible text, secrets, banned substrings,
regular expressions) run on the same rows, from their own virtual environment
(`pip install llm-guard` resolves 98 packages, among them torch with the CUDA libraries,
transformers, presidio and spaCy): pass `--llm-guard-python` to both scripts. Its
prompt-injection, toxicity and other model scanners download Hugging Face models on
first use and are not run: no rule here may download anything.

"""


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


def _sig(z: float) -> float:
    return 1 / (1 + math.exp(-max(-60.0, min(60.0, z))))


def _table(
    title: str, rows: list[tuple[str, list[bool], list[bool], float]], note: str = ""
) -> list[str]:
    out = [title, "", note, ""] if note else [title, ""]
    out += [
        "| detector | precision | recall | F1 | FPR | recall at 1% FPR |",
        "|---|---|---|---|---|---|",
    ]
    for name, pos, neg, r1 in rows:
        m = metrics(pos, neg)
        out.append(f"| {name} | {fmt(m['precision'])} | {fmt(m['recall'])} | {fmt(m['f1'])} |"
                   f" {fmt(m['fpr'])} | {fmt(r1)} |")  # fmt: skip
    return out


def evaluate(rows: list[dict[str, str]], llm_guard_python: str | None = None) -> str:
    pa_model, h_model = load_model("prompt_attack"), load_model("harmful")
    pa_oos, h_oos = _oos_by_row(rows, "prompt_attack"), _oos_by_row(rows, "harmful")
    untrained = _untrained_pipeline()
    lines: list[str] = []
    # Per row, out of source: patterns etc. for real, classifiers from the LOSO scores.
    pos_scores: dict[str, list[float]] = defaultdict(list)
    neg_scores: dict[str, list[float]] = defaultdict(list)
    fired: dict[str, tuple[list[bool], list[bool]]] = defaultdict(lambda: ([], []))
    fam: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    harmful_rows: list[bool] = []
    harmful_pipe: list[bool] = []
    compared: list[tuple[str, bool]] = []  # (text, is an attack) of every row in the table
    for row, pa, h in zip(rows, pa_oos, h_oos, strict=True):
        share_alike = "CC-BY-SA" in row.get("licence", "")
        res = untrained.scan(row["text"])
        # Rows a model never trained on (share-alike rows; families with none of its
        # labels, absent from its LOSO runs) are scored by the shipped model, as the
        # pipeline scores them: the best of the text and its decoded views.
        views = [res.text, *(v for r in res.results for v in r.views)]
        if share_alike or pa is None:
            pa = max(pa_model.best_window(v)[0] for v in views)
        if share_alike or h is None:
            h = max(h_model.best_window(v)[0] for v in views)
        label = row["label"]
        if label == "harmful":
            if h is not None:
                h_s = _sig(h - h_model.threshold)
                harmful_rows.append(h_s >= 0.5)
                harmful_pipe.append(res.flagged or h_s >= 0.5)
            continue
        if pa is None or h is None:
            continue
        pa_s, h_s = _sig(pa - pa_model.threshold), _sig(h - h_model.threshold)
        heur = {r.rule: r for r in res.triggered if r.rule not in ("pii", "secrets")}
        heur_score = max((r.score for r in heur.values()), default=0.0)
        # The pattern and suffix rules were written after reading these rows (in-sample);
        # without them every verdict is out of source: classifiers, normalisation, decoding.
        plain = {k: r for k, r in heur.items() if k not in PATTERN_RULES}
        plain_flagged = bool(plain) or pa_s >= 0.5 or h_s >= 0.5
        blocked = res.blocked or pa_s >= 0.5
        flagged = blocked or res.flagged or h_s >= 0.5
        positive = label in POS
        compared.append((row["text"], positive))
        bucket = pos_scores if positive else neg_scores
        bucket["flagged"].append(max(heur_score, pa_s, h_s))
        bucket["no-patterns"].append(max([r.score for r in plain.values()] + [pa_s, h_s]))
        bucket["blocked"].append(max(heur_score if res.blocked else 0.0, pa_s))
        bucket["prompt-attack"].append(pa_s)
        bucket["harmful"].append(h_s)
        for name, hit in (
            ("flagged", flagged),
            ("no-patterns", plain_flagged),
            ("blocked", blocked),
            ("prompt-attack", pa_s >= 0.5),
            ("harmful", h_s >= 0.5),
            *((r, r in heur) for r in (*sorted(PATTERN_RULES), "unicode")),
        ):
            fired[name][0 if positive else 1].append(hit)
        fam[f"{family(row['source'])} ({label})"].append((flagged, plain_flagged))

    def r1(name: str) -> float:
        return recall_at_fpr(pos_scores[name], neg_scores[name]) if name in pos_scores else math.nan

    table = [
        ("default pipeline, any rule fires (flag or block)", *fired["flagged"], r1("flagged")),
        ("default pipeline, blocked", *fired["blocked"], r1("blocked")),
        (
            "default pipeline without the pattern and suffix rules (all out of source)",
            *fired["no-patterns"],
            r1("no-patterns"),
        ),
        ("prompt-attack classifier", *fired["prompt-attack"], r1("prompt-attack")),
        ("harmful classifier (action: flag)", *fired["harmful"], r1("harmful")),
        ("injection-patterns", *fired["injection-patterns"], math.nan),
        ("jailbreak-patterns", *fired["jailbreak-patterns"], math.nan),
        ("adversarial-suffix", *fired["adversarial-suffix"], math.nan),
        ("unicode", *fired["unicode"], math.nan),
    ]
    n_pos, n_neg = len(fired["flagged"][0]), len(fired["flagged"][1])
    lines += _table(
        "### Leave-one-source-out: injection + jailbreak against benign",
        table,  # type: ignore[arg-type]
        f"{n_pos} attack rows, {n_neg} benign rows (share-alike benign rows included: never "
        "trained on). Each row's classifier scores come from models trained without its "
        "source family; patterns, normalisation and decoding run for real.",
    )
    lines += ["", *llm_guard_table(llm_guard_python, compared)]
    lines += [
        "",
        f"Harmful rows ({len(harmful_rows)}): the harmful classifier flags "
        f"{fmt(sum(harmful_rows) / max(len(harmful_rows), 1))}, the pipeline "
        f"{fmt(sum(harmful_pipe) / max(len(harmful_pipe), 1))} (out of source).",
        "",
        "### Per held-out source family (default pipeline, any rule)",
        "",
        "| source family (label) | rows | flagged | flagged without pattern and suffix rules |",
        "|---|---|---|---|",
    ]
    for name in sorted(fam):
        hits = fam[name]
        rate = sum(h for h, _ in hits) / len(hits)
        plain_rate = sum(p for _, p in hits) / len(hits)
        lines.append(f"| {name} | {len(hits)} | {rate:.3f} | {plain_rate:.3f} |")
    return "\n".join(lines)


def llm_guard_table(python: str | None, compared: list[tuple[str, bool]]) -> list[str]:
    """LLM Guard's offline input scanners on the same rows (``bench/llm_guard_offline.py``,
    run by LLM Guard's own interpreter). They need no training, so nothing is held out."""
    title = "### LLM Guard's offline input scanners, same rows"
    if not python:
        return [title, "", "Not run: pass `--llm-guard-python` (an interpreter with llm-guard)."]
    from llm_guard_offline import call

    rows = "".join(json.dumps({"text": text}) + "\n" for text, _ in compared)
    output, error = call(python, "flags", rows, ".jsonl")
    if error is not None:
        return [title, "", f"Failed: {error}"]
    found = [set(json.loads(line)["rules"]) for line in output.splitlines()]
    names = ["InvisibleText", "Secrets", "BanSubstrings", "Regex"]
    table: list[tuple[str, list[bool], list[bool], float]] = []
    for name in [*names, "any of the four"]:
        pos: list[bool] = []
        neg: list[bool] = []
        for (_, positive), rules in zip(compared, found, strict=True):
            hit = bool(rules) if name == "any of the four" else name in rules
            (pos if positive else neg).append(hit)
        table.append((f"LLM Guard `{name}`", pos, neg, math.nan))
    return _table(
        title,
        table,
        "The scanners that need no model download: `InvisibleText`, `Secrets`, and"
        " `BanSubstrings` and `Regex` with the injection and jailbreak phrases listed in"
        " `bench/llm_guard_offline.py` (they ship no list of their own).",
    )


if __name__ == "__main__":
    raise SystemExit(main())
