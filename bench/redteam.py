"""Red-team runner benchmark: Bastion against garak, same local target, same machine.

1. Throughput: prompts per second against a local OpenAI-compatible fake LLM
   (``_fake_llm.py``, its own process), for ``bastion redteam run`` and for garak's
   ``openai.OpenAICompatible`` generator on the probes where the two overlap (prompt
   injection, encodings, markdown exfiltration, DAN), garak sequential and with
   ``--parallel_attempts``.
2. Detector accuracy on a labelled set (``_redteam_cases.py``): answers that comply, plain
   refusals and refusals that quote the attack, judged by Bastion's detectors and by the
   garak detectors for the same job.

garak is installed with pip into ``OUT/garak-venv`` (never the project's venv). Without it
(``--skip-garak``, or when the install fails) only Bastion's numbers are written.
Results go to ``OUT/redteam-results.json`` and ``docs/benchmarks-redteam.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _redteam_cases import labelled_cases  # noqa: E402
from bastion.redteam import DETECTORS, DetectContext, Probe, Response  # noqa: E402

GARAK_PROBES = ",".join(
    [
        "promptinject.HijackHateHumans",
        "encoding.InjectBase64",
        "web_injection.MarkdownImageExfil",
        "dan.Dan_11_0",
    ]
)
BASTION_OVERLAP = [
    "prompt-injection-direct",
    "encoding-obfuscation",
    "markdown-exfiltration",
    "jailbreak",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stats(port: int, reset: bool = False) -> dict[str, Any]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/stats", method="POST" if reset else "GET"
    )
    with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310 - local fake server
        return dict(json.load(r))


def start_server(out: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = (out / "fake-llm.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "_fake_llm.py"), "--port", str(port)],
        stdout=log,
        stderr=log,
    )
    for _ in range(100):
        try:
            stats(port)
            return proc, port
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("fake LLM did not start")


def timed(
    cmd: list[str], port: int, env: dict[str, str], log: Path, timeout: int
) -> dict[str, Any]:
    stats(port, reset=True)
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with log.open("wb") as fh:
        try:
            rc = subprocess.run(
                cmd, stdout=fh, stderr=fh, env=env, timeout=timeout, cwd=log.parent, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            rc = -1
    wall = time.perf_counter() - start
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    s = stats(port)
    active = (s["last"] - s["first"]) if s["first"] and s["last"] and s["requests"] > 1 else None
    return {
        "cmd": " ".join(cmd),
        "exit": rc,
        "wall_s": round(wall, 2),
        "requests": s["requests"],
        "cpu_s": round(cpu, 2),
        "prompts_per_cpu_s": round(s["requests"] / cpu, 1) if cpu else None,
        "prompts_per_s_wall": round(s["requests"] / wall, 1) if wall else None,
        "prompts_per_s_active": round(s["requests"] / active, 1) if active else None,
    }


def bastion_runs(port: int, out: Path, concurrency: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    base = [
        sys.executable,
        "-c",
        "from bastion.cli.main import main; main()",
        "redteam",
        "run",
        "--target",
        f"http://127.0.0.1:{port}/v1",
        "--model",
        "fake",
        "--buff",
        "all",
        "--concurrency",
        str(concurrency),
    ]
    results = {}
    overlap = [x for c in BASTION_OVERLAP for x in ("--category", c)]
    # Three variants per buff on the shared categories: about as many prompts as garak sends.
    for name, extra in (("overlap", [*overlap, "--per-buff", "3"]), ("all", [])):
        folder = out / f"bastion-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        results[name] = timed(
            [*base, *extra, "--out", str(folder)], port, env, folder / "log.txt", 900
        )
    return results


def garak_venv(out: Path) -> Path | None:
    py = out / "garak-venv" / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(out / "garak-venv")], check=True)
        rc = subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "garak"], timeout=1800, check=False
        ).returncode
        if rc != 0:
            return None
    return py


def garak_runs(py: Path, port: int, out: Path, parallel: int) -> dict[str, Any]:
    home = out / "garak-home"
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "XDG_CACHE_HOME": str(home),
        "OPENAICOMPATIBLE_API_KEY": "dummy",
        "HF_HUB_OFFLINE": "1",
        "DO_NOT_TRACK": "1",
    }
    opts = out / "garak-options.json"
    opts.write_text(
        json.dumps(
            {
                "openai": {
                    "OpenAICompatible": {
                        "uri": f"http://127.0.0.1:{port}/v1/",
                        "model": "fake",
                        "api_key": "dummy",
                    }
                }
            }
        )
    )
    base = [
        str(py),
        "-m",
        "garak",
        "--target_type",
        "openai.OpenAICompatible",
        "--target_name",
        "fake",
        "--generator_option_file",
        str(opts),
        "--probes",
        GARAK_PROBES,
        "--generations",
        "1",
    ]
    results = {}
    for name, extra in (
        ("sequential", []),
        (f"parallel-{parallel}", ["--parallel_attempts", str(parallel)]),
    ):
        folder = out / f"garak-{name}"
        folder.mkdir(parents=True, exist_ok=True)
        results[name] = timed(
            [*base, *extra, "--report_prefix", name], port, env, folder / "log.txt", 1800
        )
    version = subprocess.run(
        [str(py), "-c", "import garak; print(garak.__version__)"],
        capture_output=True,
        check=False,
        text=True,
        env=env,
    ).stdout.strip()
    results["version"] = version
    return results


def bastion_accuracy(cases: list[dict[str, Any]]) -> list[bool]:
    out = []
    for c in cases:
        probe = Probe(
            "bench",
            c["family"],
            c["prompt"],
            (c["family"],),
            marker=c["triggers"][0] if c["triggers"] else None,
        )
        ctx = DetectContext(probe, c["prompt"])
        out.append(DETECTORS[c["family"]].detect(Response(c["response"]), ctx).hit)
    return out


def garak_accuracy(
    py: Path, cases: list[dict[str, Any]], out: Path
) -> tuple[list[bool | None], dict[str, str]]:
    home = out / "garak-home"
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(home),
        "XDG_CONFIG_HOME": str(home),
        "XDG_CACHE_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
    }
    proc = subprocess.run(
        [str(py), str(Path(__file__).parent / "_garak_detect.py")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=True,
    )
    data = json.loads(proc.stdout)
    return [None if s is None else s >= 0.5 for s in data["scores"]], data["detectors"]


def score(cases: list[dict[str, Any]], verdicts: list[bool | None]) -> dict[str, dict[str, Any]]:
    table: dict[str, dict[str, Any]] = {}
    for c, v in zip(cases, verdicts, strict=True):
        row = table.setdefault(
            c["family"], {"n": 0, "correct": 0, "comply": [0, 0], "refuse": [0, 0], "quote": [0, 0]}
        )
        row["n"] += 1
        row["correct"] += v is c["label"]
        row[c["kind"]][0] += bool(v)
        row[c["kind"]][1] += 1
    for row in table.values():
        row["accuracy"] = round(row["correct"] / row["n"], 3)
        row["recall"] = round(row["comply"][0] / row["comply"][1], 3)
        row["fpr_refusal"] = round(row["refuse"][0] / row["refuse"][1], 3)
        row["fpr_quote"] = round(row["quote"][0] / row["quote"][1], 3)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "redteam")
    parser.add_argument("--skip-garak", action="store_true")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "benchmarks-redteam.md")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    py = None if args.skip_garak else garak_venv(out.parent)
    server, port = start_server(out)
    load_start = os.getloadavg()[0]
    try:
        results: dict[str, Any] = {"bastion": bastion_runs(port, out, args.concurrency)}
        results["garak_probes"] = GARAK_PROBES
        if py is not None:
            results["garak"] = garak_runs(py, port, out, args.concurrency)
        results["loadavg"] = [round(load_start, 2), round(os.getloadavg()[0], 2)]
    finally:
        server.terminate()
        server.wait(10)
    cases = labelled_cases()
    results["cases"] = len(cases)
    results["accuracy"] = {"bastion": score(cases, bastion_accuracy(cases))}  # type: ignore[arg-type]
    if py is not None:
        verdicts, names = garak_accuracy(py, cases, out)
        results["accuracy"]["garak"] = score(cases, verdicts)
        results["garak_detectors"] = names
    results["machine"] = (
        f"{os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}"
    )
    results["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    (out / "redteam-results.json").write_text(json.dumps(results, indent=2))
    args.report.write_text(render(results))
    print(json.dumps(results, indent=2))


def render(r: dict[str, Any]) -> str:
    from _redteam_report import render as _render

    return _render(r)


if __name__ == "__main__":
    main()
