"""Train the guard's shipped classifiers from the labelled development set.

Usage::

    python bench/train_guard.py [DATA_DIR] [--loso] [--out src/bastion/guard/models]

``DATA_DIR`` defaults to ``../shared/data/guard/`` (relative to the repository root)
and must hold ``dev.jsonl``. Rows whose licence is share-alike (CC-BY-SA: the OWASP
cheat sheets and the synthetic web documents built from them) are excluded from
training, so the shipped weights carry no share-alike obligation. The raw data is
never written out: the model files hold feature strings and weights only.

Two linear models are trained on sentence features (``bastion.guard._features``):
``prompt_attack`` (injection + jailbreak against benign) and ``harmful`` (harmful
requests against benign). A text scores as its best window of up to three
consecutive sentences; training is multiple-instance: round 0 uses every window of
an attack text, later rounds only its best-scoring window, so the model learns the
hidden instruction rather than the e-mail around it.

With ``--loso`` it first runs leave-one-source-out evaluation (train on every source
family but one, score the one left out), writes the pooled out-of-source scores to
``bench/out/guard_loso_scores.jsonl`` and sets each model's threshold from them
(the highest benign false-positive rate allowed is ``--target-fpr``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import multiprocessing
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from bastion.guard._features import WINDOW, sentence_features  # noqa: E402
from bastion.guard.encoding import expand  # noqa: E402
from bastion.guard.unicode import normalise  # noqa: E402

DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "guard"
#: model name -> (positive labels, negative labels, multiple-instance rounds). Harmful
#: requests are short and plain, so their model needs no window selection.
TARGETS = {
    "prompt_attack": ({"injection", "jailbreak"}, {"benign"}, 1),
    "harmful": ({"harmful"}, {"benign"}, 0),
}
#: Benign false-positive rate each model's threshold allows, out of source. The
#: pipeline ORs the models and the patterns, so the budgets add up to under 2 %
#: (chosen on the same pooled out-of-source scores that guard_eval reports).
TARGET_FPR = {"prompt_attack": 0.014, "harmful": 0.003}
#: Weights kept in a shipped model, largest magnitude first.
MAX_WEIGHTS = 40_000


@dataclass
class Doc:
    text: str
    label: str
    source: str
    family: str
    sents: list[frozenset[str]]


def family(source: str) -> str:
    """The source family used for leave-one-source-out: ``synth`` rows by generator."""
    parts = source.split("/")
    head = parts[0].split("(")[0]
    if head in ("synth", "synth-doc") and len(parts) > 1:
        return f"{head}/{parts[1].split('(')[0]}"
    return head


def load(data_dir: Path) -> list[Doc]:
    docs = []
    with (data_dir / "dev.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if "CC-BY-SA" in row.get("licence", ""):
                continue
            text = normalise(row["text"]).text
            sents = [frozenset(s) for s in sentence_features(text)] or [frozenset()]
            docs.append(Doc(text, row["label"], row["source"], family(row["source"]), sents))
    return docs


def windows(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, min(i + WINDOW, n) + 1)]


class Vocab:
    def __init__(self, docs: Sequence[Doc], min_df: int = 2) -> None:
        df: Counter[str] = Counter()
        for d in docs:
            df.update(set().union(*d.sents))
        self.index = {f: i for i, f in enumerate(sorted(f for f, c in df.items() if c >= min_df))}

    def rows(self, docs: Sequence[Doc]) -> list[list[list[int]]]:
        ix = self.index
        return [[[ix[f] for f in s if f in ix] for s in d.sents] for d in docs]


def sentence_matrix(rows: list[list[list[int]]], dim: int) -> sparse.csr_matrix:
    indptr, indices = [0], []
    for doc_rows in rows:
        for sent in doc_rows:
            indices.extend(sent)
            indptr.append(len(indices))
    data = np.ones(len(indices))
    return sparse.csr_matrix(
        (data, np.array(indices, dtype=np.int64), np.array(indptr)), shape=(len(indptr) - 1, dim)
    )


def instances(
    sent_x: sparse.csr_matrix, offsets: list[int], spans: list[list[tuple[int, int]]]
) -> sparse.csr_matrix:
    """Window rows as sums of sentence rows: a 0/1 selection matrix times ``sent_x``."""
    r, c = [], []
    k = 0
    for off, doc_spans in zip(offsets, spans, strict=True):
        for i, j in doc_spans:
            r.extend([k] * (j - i))
            c.extend(range(off + i, off + j))
            k += 1
    sel = sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(k, sent_x.shape[0]))
    return (sel @ sent_x).tocsr()


def best_window(sums: list[float], b: float) -> tuple[float, tuple[int, int]]:
    best = (-math.inf, (0, 1))
    for i, j in windows(len(sums)):
        v = b + sum(sums[i:j])
        if v > best[0]:
            best = (v, (i, j))
    return best


def fit(docs: Sequence[Doc], pos: set[str], neg: set[str], *, rounds: int = 1, c: float = 0.05):
    train = [d for d in docs if d.label in pos or d.label in neg]
    vocab = Vocab(train)
    rows = vocab.rows(train)
    dim = len(vocab.index)
    y_doc = [d.label in pos for d in train]
    neg_spans = [windows(len(r)) if not y else [] for r, y in zip(rows, y_doc, strict=True)]
    pos_spans = [windows(len(r)) if y else [] for r, y in zip(rows, y_doc, strict=True)]
    sent_x = sentence_matrix(rows, dim)
    offsets = np.cumsum([0] + [len(r) for r in rows[:-1]]).tolist()
    w = np.zeros(dim)
    b = 0.0
    xn = instances(sent_x, offsets, neg_spans)
    for rnd in range(rounds + 1):
        xp = instances(sent_x, offsets, pos_spans)
        # The text scores as its best window, so every benign window must score low:
        # each weighs 1. An attack text weighs the same in total whatever its number of
        # windows, and the attack class weighs as much as the benign windows together.
        wn = np.ones(xn.shape[0])
        wp = np.concatenate([np.full(len(s), 1.0 / len(s)) for s in pos_spans if s])
        wp *= xn.shape[0] / max(sum(y_doc), 1)
        x = sparse.vstack([xn, xp]).tocsr()
        y = np.concatenate([np.zeros(xn.shape[0]), np.ones(xp.shape[0])])
        clf = LogisticRegression(C=c, max_iter=300, solver="liblinear", tol=1e-3)
        clf.fit(x, y, sample_weight=np.concatenate([wn, wp]))
        w, b = clf.coef_[0], float(clf.intercept_[0])
        if rnd < rounds:
            sent_scores = (sent_x @ w).tolist()
            pos_spans = [
                [best_window(sent_scores[off : off + len(r)], b)[1]] if yy else []
                for r, yy, off in zip(rows, y_doc, offsets, strict=True)
            ]
    inv = {i: f for f, i in vocab.index.items()}
    weights = {inv[i]: float(w[i]) for i in np.nonzero(np.abs(w) >= 1e-3)[0]}
    return weights, b


def score(doc: Doc, weights: dict[str, float], bias: float) -> float:
    sums = [sum(weights.get(f, 0.0) for f in s) for s in doc.sents]
    return max(bias + sum(sums[i:j]) for i, j in windows(len(sums)))


def threshold_at(benign_scores: Sequence[float], fpr: float) -> float:
    s = sorted(benign_scores, reverse=True)
    k = math.floor(fpr * len(s))
    return s[k] + 1e-6 if k < len(s) else s[-1]


_FOLD_DOCS: list[Doc] = []


def _fold(
    args: tuple[str, str, frozenset[str], frozenset[str], int, float],
) -> list[dict[str, object]]:
    """One leave-one-source-out fold: train without ``fam``, score its rows."""
    fam, name, pos, neg, rounds, c = args
    docs = _FOLD_DOCS
    t0 = time.time()
    train = [d for d in docs if d.family != fam]
    weights, bias = fit(train, set(pos), set(neg), rounds=rounds, c=c)
    # Every row of the held-out family, whatever its label, scored as the pipeline
    # scores it: the best of the text and its decoded views.
    held = [d for d in docs if d.family == fam]
    out: list[dict[str, object]] = []
    for d in held:
        best = score(d, weights, bias)
        for view in expand(d.text):
            sents = [frozenset(s) for s in sentence_features(view.text)] or [frozenset()]
            best = max(best, score(Doc(view.text, d.label, d.source, fam, sents), weights, bias))
        out.append({"model": name, "family": fam, "source": d.source, "label": d.label,
                    "score": best})  # fmt: skip
    print(f"  {name} without {fam}: {len(held)} rows, {time.time() - t0:.0f}s", flush=True)
    return out


def loso(
    docs: list[Doc],
    name: str,
    pos: set[str],
    neg: set[str],
    rounds: int,
    *,
    c: float = 0.05,
    jobs: int = 1,
) -> list[dict[str, object]]:
    # Families whose rows are all harmful are not held out for the attack model: its
    # target is injection and jailbreak, and those folds would only cost time.
    fams = sorted({
        d.family for d in docs
        if d.label in pos | neg and (d.label != "harmful" or "injection" not in pos)
    })  # fmt: skip
    _FOLD_DOCS[:] = docs
    tasks = [(fam, name, frozenset(pos), frozenset(neg), rounds, c) for fam in fams]
    if jobs > 1:
        # Folds are independent; forked workers share the loaded rows.
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            parts = pool.map(_fold, tasks, chunksize=1)
    else:
        parts = [_fold(t) for t in tasks]
    return [row for part in parts for row in part]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "bastion" / "guard" / "models")
    ap.add_argument("--loso", action="store_true", help="leave-one-source-out first")
    ap.add_argument("--target-fpr", type=float, default=None, help="override TARGET_FPR")
    ap.add_argument("--only", choices=sorted(TARGETS), action="append")
    ap.add_argument(
        "--attack-includes-harmful",
        action="store_true",
        help="experiment: train prompt_attack with harmful rows as positives too",
    )
    ap.add_argument("--tag", default="", help="suffix for the LOSO score files")
    ap.add_argument("--c", type=float, default=0.05, help="inverse L2 regularisation strength")
    ap.add_argument("--jobs", type=int, default=1, help="leave-one-source-out folds in parallel")
    ap.add_argument(
        "--reuse-loso", action="store_true", help="take thresholds from earlier --loso scores"
    )
    args = ap.parse_args(argv)
    random.seed(2025)
    docs = load(args.data)
    print(f"{len(docs)} rows after dropping share-alike rows", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (pos, neg, rounds) in TARGETS.items():
        if args.only and name not in args.only:
            continue
        if name == "prompt_attack" and args.attack_includes_harmful:
            pos = pos | {"harmful"}
        threshold = 0.0
        scores_path = ROOT / "bench" / "out" / f"guard_loso_{name}{args.tag}.jsonl"
        if args.loso or args.reuse_loso:
            if args.loso:
                scores = loso(docs, name, pos, neg, rounds, c=args.c, jobs=args.jobs)
                scores_path.parent.mkdir(parents=True, exist_ok=True)
                with scores_path.open("w", encoding="utf-8") as fh:
                    for row in scores:
                        fh.write(json.dumps(row) + "\n")
            else:
                with scores_path.open(encoding="utf-8") as fh:
                    scores = [json.loads(line) for line in fh]
            benign = [float(r["score"]) for r in scores if r["label"] in neg]  # type: ignore[arg-type]
            threshold = threshold_at(benign, args.target_fpr or TARGET_FPR[name])
            hits = [float(r["score"]) >= threshold for r in scores if r["label"] in pos]  # type: ignore[arg-type]
            print(f"{name}: threshold {threshold:.3f}, out-of-source recall {np.mean(hits):.3f}")
        weights, bias = fit(docs, pos, neg, rounds=rounds, c=args.c)
        top = sorted(weights, key=lambda f: -abs(weights[f]))[:MAX_WEIGHTS]
        weights = {f: weights[f] for f in top}
        model = {
            "name": name,
            "version": 1,
            "bias": round(bias, 5),
            "threshold": round(threshold, 5),
            "window": WINDOW,
            "weights": {f: round(w, 4) for f, w in sorted(weights.items())},
        }
        path = args.out / f"{name}.json.gz"
        with gzip.GzipFile(path, "wb", mtime=0) as gz:
            gz.write(json.dumps(model, separators=(",", ":"), sort_keys=True).encode())
        print(f"wrote {path.name}: {len(weights)} weights, {path.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
