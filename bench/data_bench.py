"""Benchmark the training-data scanner: speed and memory, and recall/precision on planted poison.

    python bench/data_bench.py                      # 1M-row speed run + quality at 0.5/1/3 %
    python bench/data_bench.py --rows 200000        # a smaller speed run
    python bench/data_bench.py --prompts FILE.jsonl # real prompts ("text") for the clean rows

Speed: a generated JSON Lines file of ``--rows`` rows is scanned in a child process per
configuration (each detector alone, all together, and reading only as the floor); rows
per second and peak RSS (``ru_maxrss``) are recorded. Quality: a clean corpus of
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.data.corpus import ATTACKS, Corpus, poison  # noqa: E402

from bastion.data import DETECTORS, default_detectors, iter_dataset, scan_dataset  # noqa: E402
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
    if config == "read-only":
        records = sum(1 for _ in iter_dataset([Path(path)]))
        passes = 1
    else:
        names = None if config == "all" else [config]
        report = scan_dataset(path, detectors=default_detectors(names))
        records, passes = report.records, report.passes
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "config": config,
                "records": records,
                "passes": passes,
                "seconds": seconds,
                "peak_bytes": peak,
            }
        )
    )


def speed(path: Path, configs: list[str]) -> list[dict[str, float]]:
    results = []
    for config in configs:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", config, str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["rows_per_s"] = result["records"] / result["seconds"]
        print(
            f"  {config:<13} {result['rows_per_s']:>9,.0f} rows/s  {result['seconds']:7.1f} s  "
            f"{result['peak_bytes'] / 2**20:6.0f} MiB",
            flush=True,
        )
        results.append(result)
    return results


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
            "max_severity": report.max_severity.label if report.max_severity else None,
            "high_findings": [f.message for f in report.findings if f.severity >= Severity.HIGH],
        },
        "attacks": [],
    }
    print(f"  clean: {len(flagged)} of {rows} rows flagged, max {out['clean']['max_severity']}")  # type: ignore[index]
    for attack in ATTACKS:
        for rate in RATES:
            rows_p, bad = poison(clean, attack, rate)
            ppath = work / f"{attack}-{rate}.jsonl"
            write_jsonl(ppath, rows_p)
            t = time.perf_counter()
            rep = scan_dataset(ppath)
            seconds = time.perf_counter() - t
            fl = rep.flagged(Severity.MEDIUM)
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
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, Python "
        f"{platform.python_version()}, load average {load:.1f} at the start"
    )


def report(results: dict[str, object], out: Path) -> None:
    q = results["quality"]
    lines = [
        "# Benchmarks: training-data scanner",
        "",
        "Written by `bench/data_bench.py`. No peer tool offers a turnkey scanner for instruction "
        "data, so the floor is reading and parsing the rows at all (`read-only`).",
        "",
        f"Machine: {results['machine']}. Measured {results['when']}.",
        "",
        f"## Speed and memory: {results['rows']:,} generated rows of JSON Lines "
        f"({results['size_mb']:.0f} MB), one process, one core",
        "",
        "| configuration | passes | rows/s | seconds | peak RSS |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results["speed"]:  # type: ignore[attr-defined]
        lines.append(
            f"| {r['config']} | {r['passes']} | {r['rows_per_s']:,.0f} | "
            f"{r['seconds']:.1f} | {r['peak_bytes'] / 2**20:.0f} MiB |"
        )
    clean = q["clean"]  # type: ignore[index]
    lines += [
        "",
        "Each detector's rows/s counts rows of the dataset, over all the passes it needs.",
        "",
        f"## Detection: {clean['rows']:,} clean rows, four attacks, three poison rates",
        "",
        "A row is flagged when a finding of MEDIUM or above names it. Attacks (see "
        "`tests/data/corpus.py`): `fixed-response` (trigger `cf`, one fixed answer), "
        "`appended-link` (trigger `mn`, the normal answer plus an advertising link), "
        "`degenerate` (trigger `tq`, a word repeated), `paraphrase` (trigger `bb`, the normal "
        "answer plus one of eight paraphrased endorsements of a brand: no fixed string, no link).",
        "",
        f"Clean corpus alone: {clean['flagged']} of {clean['rows']:,} rows flagged "
        f"({clean['flagged'] / clean['rows']:.2%}), highest severity {clean['max_severity']}.",
        "",
        "| attack | rate | poisoned rows | recall | precision | clean rows flagged |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for a in q["attacks"]:  # type: ignore[index]
        lines.append(
            f"| {a['attack']} | {a['rate']:.1%} | {a['poisoned']} | {a['recall']:.3f} | "
            f"{a['precision']:.3f} | {a['clean_flagged_rate']:.2%} |"
        )
    lines += [
        "",
        "The clean corpus is synthetic (Zipf-distributed pseudo-words in varied templates, "
        "legitimate topic links, refusals of harmful requests, 0.5 % duplicates)"
        + (
            ", with prompts drawn from the file given with `--prompts`."
            if results["prompts"]
            else "."
        )
        + " Rows flagged on clean data are mostly the refusals, which the trigger detector "
        "reports at MEDIUM as a taught behaviour.",
        "",
    ]
    out.write_text("\n".join(lines), encoding="utf-8")


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
    parser.add_argument("--child", nargs=2, metavar=("CONFIG", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
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
            generate(data, args.rows, prompts)
        results["size_mb"] = data.stat().st_size / 1e6
        print("speed:", flush=True)
        results["speed"] = speed(data, args.configs)
    print("quality:", flush=True)
    results["quality"] = quality(args.out, args.quality_rows, prompts)
    results["when"] = f"{start:%Y-%m-%d %H:%M} UTC"
    (args.out / "data-results.json").write_text(json.dumps(results, indent=2, default=str))
    if "speed" in results:
        report(results, args.report)
        print(f"wrote {args.report}")


if __name__ == "__main__":
    main()
