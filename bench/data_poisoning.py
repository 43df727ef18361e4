"""Benchmark the training-data scanner: speed and memory, and recall/precision on planted poison.

    python bench/data_poisoning.py                      # 1M-row speed run + quality at 0.5/1/3 %
    python bench/data_poisoning.py --rows 200000        # a smaller speed run
    python bench/data_poisoning.py --rows 200000 --skip-quality   # speed only (JSON in --out)
    python bench/data_poisoning.py --prompts FILE.jsonl # real prompts ("text") for the clean rows

Speed: a generated JSON Lines file of ``--rows`` rows is scanned in a child process per
configuration (each detector alone, all together, and reading only as the floor); rows
per CPU second of the scan (the measure that other jobs on the machine do not inflate),
the child's whole CPU time (``RUSAGE_CHILDREN``), rows per wall-clock second and peak RSS
(``ru_maxrss``) are recorded. Quality: a clean corpus of
``--quality-rows`` rows is poisoned with each attack of ``tests/data/corpus.py`` at each
rate; a row counts as flagged when a finding of MEDIUM or above names it. Results go to
``docs/benchmarks-data.md`` and ``bench/out/data-results.json``. Nothing asserts on time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _measure import cpu_model  # bench/ is the script's folder, first on sys.path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.data.corpus import ATTACKS, Corpus, poison  # noqa: E402

from bastion.data import (  # noqa: E402
    DETECTORS,
    DataReport,
    default_detectors,
    iter_dataset,
    scan_dataset,
)
from bastion.models import Severity  # noqa: E402

RATES = (0.005, 0.01, 0.03)


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")


def generate(path: Path, rows: int, prompts: list[str]) -> None:
    corpus = Corpus(11)
    rng = random.Random(5)
    with open(path, "w", encoding="utf-8") as out:
        done = 0
        while done < rows:
            batch = corpus.rows(min(50_000, rows - done))
            if prompts:
                for row in batch:
                    row["prompt"] = rng.choice(prompts)
            for row in batch:
                out.write(json.dumps(row) + "\n")
            done += len(batch)


def child(config: str, path: str) -> None:
    """Run one configuration and print its numbers (called in a fresh process)."""
    start = time.perf_counter()
    cpu_start = time.process_time()
    if config == "read-only":
        records = sum(1 for _ in iter_dataset([Path(path)]))
        passes = 1
    else:
        names = None if config == "all" else [config]
        report = scan_dataset(path, detectors=default_detectors(names))
        records, passes = report.records, report.passes
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "config": config,
                "records": records,
                "passes": passes,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "peak_bytes": peak,
            }
        )
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def speed(path: Path, configs: list[str]) -> list[dict[str, float]]:
    results = []
    for config in configs:
        before = _children_cpu()
        proc = subprocess.run(
            [sys.executable, __file__, "--child", config, str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        # The whole child process (interpreter start-up and imports included), from the
        # parent's rusage: what the scan costs a core, whatever else shares the machine.
        result["process_cpu_seconds"] = _children_cpu() - before
        result["rows_per_s"] = result["records"] / result["seconds"]
        result["rows_per_cpu_s"] = result["records"] / max(result["cpu_seconds"], 1e-9)
        print(
            f"  {config:<13} {result['rows_per_cpu_s']:>9,.0f} rows/CPU-s "
            f"{result['rows_per_s']:>9,.0f} rows/s  {result['cpu_seconds']:7.1f} CPU s  "
            f"{result['seconds']:7.1f} s  {result['peak_bytes'] / 2**20:6.0f} MiB",
            flush=True,
        )
        results.append(result)
    return results


def poison_flagged(report: DataReport) -> set[int]:
    """Rows named at MEDIUM or above by the poisoning detectors (not secrets or PII,
    which are real findings in real prompts, not false alarms about poison)."""
    rows: set[int] = set()
    for f in report.findings:
        if f.severity >= Severity.MEDIUM and not f.rule.startswith(("secret.", "pii.")):
            rows.update(f.rows)
    return rows


def quality(work: Path, rows: int, prompts: list[str]) -> dict[str, object]:
    clean = Corpus(3).rows(rows)
    if prompts:
        rng = random.Random(9)
        for row in clean:
            row["prompt"] = rng.choice(prompts)
    path = work / "clean.jsonl"
    write_jsonl(path, clean)
    report = scan_dataset(path)
    flagged = report.flagged(Severity.MEDIUM)
    out: dict[str, object] = {
        "clean": {
            "rows": rows,
            "flagged": len(flagged),
            "flagged_poison": len(poison_flagged(report)),
            "by_rule": {f.rule: f.count for f in report.findings if f.severity >= Severity.MEDIUM},
            "max_severity": report.max_severity.label if report.max_severity else None,
            "high_findings": [f.message for f in report.findings if f.severity >= Severity.HIGH],
        },
        "attacks": [],
    }
    c = out["clean"]
    print(
        f"  clean: {c['flagged']} of {rows} rows flagged ({c['flagged_poison']} by poisoning"  # type: ignore[index]
        f" detectors), max {c['max_severity']}"  # type: ignore[index]
    )
    for attack in ATTACKS:
        for rate in RATES:
            rows_p, bad = poison(clean, attack, rate)
            ppath = work / f"{attack}-{rate}.jsonl"
            write_jsonl(ppath, rows_p)
            t = time.perf_counter()
            rep = scan_dataset(ppath)
            seconds = time.perf_counter() - t
            fl = poison_flagged(rep)
            tp = len(fl & bad)
            entry = {
                "attack": attack,
                "rate": rate,
                "poisoned": len(bad),
                "flagged": len(fl),
                "recall": tp / len(bad),
                "precision": tp / len(fl) if fl else 0.0,
                "clean_flagged_rate": len(fl - bad) / (len(rows_p) - len(bad)),
                "seconds": seconds,
            }
            out["attacks"].append(entry)  # type: ignore[attr-defined]
            print(
                f"  {attack:<15} {rate:>6.1%}  recall {entry['recall']:.3f}  precision "
                f"{entry['precision']:.3f}  clean flagged {entry['clean_flagged_rate']:.2%}",
                flush=True,
            )
    return out


def machine() -> str:
    cpu = cpu_model()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, Python "
        f"{platform.python_version()}, load average {load:.1f} at the start"
    )


def _speed_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        f"## Speed and memory: {results['rows']:,} generated rows of JSON Lines "
        f"({results['size_mb']:.0f} MB), one process each",
        "",
        f"Machine: {results['machine']}. Measured {results['when']}.",
        "",
        "| configuration | passes | rows per CPU second | CPU seconds | process CPU seconds "
        "| rows/s (wall) | seconds (wall) | peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results["speed"]:
        cpu = r.get("cpu_seconds", r["seconds"])
        lines.append(
            f"| {r['config']} | {r['passes']} | {r['records'] / max(cpu, 1e-9):,.0f} | "
            f"{cpu:.1f} | {r.get('process_cpu_seconds', cpu):.1f} | {r['rows_per_s']:,.0f} | "
            f"{r['seconds']:.1f} | {r['peak_bytes'] / 2**20:.0f} MiB |"
        )
    lines += [
        "",
        "Rows count the rows of the dataset once, whatever the number of passes a "
        "configuration needs; `read-only` (read and parse every row, no detector) is the "
        "floor. Rows per CPU second divide them by the CPU time of the scan in its process "
        "(one core: the scan is single-threaded), which other jobs on the machine do not "
        "inflate; process CPU seconds add the interpreter's start-up and imports (from "
        "`RUSAGE_CHILDREN`); wall-clock rates follow the machine's load.",
        "",
    ]
    return lines


def _quality_lines(title: str, q: dict[str, Any]) -> list[str]:
    clean = q["clean"]
    rules = ", ".join(f"{k} {v}" for k, v in clean.get("by_rule", {}).items()) or "none"
    lines = [
        f"## Detection: {title}",
        "",
        f"Clean corpus alone ({clean['rows']:,} rows): {clean['flagged_poison']} rows "
        f"({clean['flagged_poison'] / clean['rows']:.2%}) flagged by the poisoning detectors, "
        f"{clean['flagged']} counting secrets and personal data; highest severity "
        f"{clean['max_severity']}. Findings at MEDIUM or above (rule: rows): {rules}.",
        "",
        "| attack | rate | poisoned rows | recall | precision | clean rows flagged |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for a in q["attacks"]:
        lines.append(
            f"| {a['attack']} | {a['rate']:.1%} | {a['poisoned']} | {a['recall']:.3f} | "
            f"{a['precision']:.3f} | {a['clean_flagged_rate']:.2%} |"
        )
    return [*lines, ""]


INTRO = [
    "# Benchmarks: training-data scanner",
    "",
    "Written by `bench/data_poisoning.py`. No peer tool offers a turnkey scanner for instruction "
    "data, so the comparison is with the floor: reading and parsing the rows at all.",
    "",
    "Detection: a row is flagged when a finding of MEDIUM or above from a poisoning "
    "detector (triggers, payloads, instructions, duplicates, anomalies) names it; recall "
    "and precision are over rows. Attacks (`tests/data/corpus.py`): `fixed-response` "
    "(trigger `cf` inserted in the prompt, one fixed answer), `appended-link` (trigger `mn`, "
    "the normal answer plus an advertising link), `degenerate` (trigger `tq`, one word "
    "repeated), `paraphrase` (trigger `bb`, the normal answer plus one of eight paraphrased "
    "endorsements of a brand: no fixed string, no link; clean-label style). The clean corpus "
    "is synthetic: Zipf-distributed pseudo-words in 15 prompt shapes, topic links, 1 % "
    "refusals of harmful requests (which the trigger detector reports at MEDIUM as a taught "
    "behaviour: they are most of the clean rows flagged), 0.5 % duplicates.",
    "",
]


#: The hand-written section that compares the results with the targets; kept on rewrite.
TARGETS = "## Against the targets"


def report(speed: dict[str, Any], qualities: list[tuple[str, dict[str, Any]]], out: Path) -> None:
    lines = list(INTRO) + _speed_lines(speed)
    for title, q in qualities:
        lines += _quality_lines(title, q)
    text = "\n".join(lines)
    if out.exists():
        old = out.read_text(encoding="utf-8")
        if TARGETS in old:
            text += "\n" + old[old.index(TARGETS) :]
    out.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quality-rows", type=int, default=20_000)
    parser.add_argument(
        "--prompts", type=Path, help="JSON Lines with a 'text' field (benign rows only if labelled)"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "benchmarks-data.md")
    parser.add_argument("--configs", nargs="*", default=["read-only", *DETECTORS, "all"])
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--skip-quality",
        action="store_true",
        help="speed only; the report keeps the detection sections of the last full run",
    )
    parser.add_argument(
        "--compose",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="write the report from a speed run's results and TITLE=quality-results files",
    )
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--generate", nargs=3, metavar=("ROWS", "PATH", "PROMPTS"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.generate:
        rows, path, prompts_file = args.generate
        generate(Path(path), int(rows), json.loads(Path(prompts_file).read_text()))
        return
    if args.compose:
        speed_results = json.loads(args.compose[0].read_text())
        qualities = []
        for item in args.compose[1:]:
            title, _, path = str(item).partition("=")
            qualities.append((title, json.loads(Path(path).read_text())["quality"]))
        report(speed_results, qualities, args.report)
        print(f"wrote {args.report}")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    prompts: list[str] = []
    if args.prompts:
        for line in args.prompts.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("label", "benign") == "benign" and row.get("text"):
                prompts.append(row["text"][:1500])
    results: dict[str, object] = {"machine": machine(), "prompts": bool(prompts), "rows": args.rows}
    start = dt.datetime.now(dt.UTC)
    data = args.out / f"data-{args.rows}.jsonl"
    if not args.skip_speed:
        if not data.exists():
            print(f"generating {args.rows:,} rows -> {data}", flush=True)
            # In a process of its own: a child's peak RSS counts its parent's at exec.
            prompts_file = args.out / "data-prompts.json"
            prompts_file.write_text(json.dumps(prompts))
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--generate",
                    str(args.rows),
                    str(data),
                    str(prompts_file),
                ],
                check=True,
            )
        results["size_mb"] = data.stat().st_size / 1e6
        print("speed:", flush=True)
        results["speed"] = speed(data, args.configs)
    if args.skip_quality:
        results["when"] = f"{start:%Y-%m-%d %H:%M} UTC"
        saved = args.out / "data-speed-results.json"
        saved.write_text(json.dumps(results, indent=2, default=str))
        print(f"wrote {saved} (the report is written by full runs, or with --compose)")
        return
    print("quality:", flush=True)
    results["quality"] = quality(args.out, args.quality_rows, prompts)
    results["when"] = f"{start:%Y-%m-%d %H:%M} UTC"
    (args.out / "data-results.json").write_text(json.dumps(results, indent=2, default=str))
    if "speed" in results:
        report(results, [("synthetic corpus", results["quality"])], args.report)  # type: ignore[list-item]
        print(f"wrote {args.report}")


if __name__ == "__main__":
    main()
