"""Markdown for docs/benchmarks-redteam.md from the red-team benchmark's results."""

from __future__ import annotations

from typing import Any


def _rate(run: dict[str, Any], key: str = "prompts_per_s_wall") -> float:
    return float(run.get(key) or 0.0)


def _throughput(r: dict[str, Any]) -> list[str]:
    lines = [
        "| tool | run | exit | requests | wall (s) | prompts/s (wall) "
        "| prompts/s (first to last request) | CPU (s) | prompts per CPU second |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for tool in ("bastion", "garak"):
        for name, run in r.get(tool, {}).items():
            if not isinstance(run, dict):
                continue
            lines.append(
                f"| {tool} | {name} | {run['exit']} | {run['requests']} | {run['wall_s']} | "
                f"{run['prompts_per_s_wall']} | {run['prompts_per_s_active']} | "
                f"{run.get('cpu_s')} | {run.get('prompts_per_cpu_s')} |"
            )
    return lines


def _ratio_of(a: dict[str, Any], b: dict[str, Any], key: str) -> float:
    return _rate(a, key) / _rate(b, key) if _rate(b, key) else float("inf")


def _ratio(r: dict[str, Any]) -> list[str]:
    if "garak" not in r:
        return ["garak was not measured in this run (`--skip-garak`, or its install failed)."]
    runs = {k: v for k, v in r["garak"].items() if isinstance(v, dict) and v["requests"]}
    if not runs:
        return ["garak sent no requests; see its log under `bench/out/redteam/garak-*/`."]
    ours = r["bastion"]["overlap"]
    lines = []
    for label, key in (
        ("prompts per CPU second of the runner process", "prompts_per_cpu_s"),
        ("prompts/s, wall time including start-up", "prompts_per_s_wall"),
        ("prompts/s between the first and the last request", "prompts_per_s_active"),
    ):
        name, best = max(runs.items(), key=lambda kv: _rate(kv[1], key))
        ratio = _ratio_of(ours, best, key)
        verdict = "met" if ratio >= 5 else "NOT met"
        lines.append(
            f"- {label}: Bastion {_rate(ours, key):.1f}, garak's best ({name}) "
            f"{_rate(best, key):.1f}: **{ratio:.1f}x** (target in the issue: 5x, {verdict})"
        )
    load = r.get("loadavg")
    note = (
        (
            f"Load average on the 2 cores (other jobs included) was {load[0]} at the start and "
            f"{load[1]} at the end of the throughput runs, so wall-clock rates swing by 2-3x "
            "between "
            "runs; CPU time per prompt is the stable measure."
        )
        if load
        else ""
    )
    return [
        *lines,
        "",
        note,
        "Where Bastion's time goes: start-up (imports, probe packs) is most of it; the HTTP "
        "client (aiohttp) costs about 0.2 ms of CPU per request against this server, and the "
        "detectors about 0.5 ms per answer. With httpx, the client the runner used before, "
        "each request cost about 3 ms of CPU and the ratio was 2.7x.",
    ]


def _accuracy(r: dict[str, Any]) -> list[str]:
    acc = r["accuracy"]
    names = r.get("garak_detectors", {})
    lines = [
        "| family | tool (detector) | cases | accuracy | recall on compliance | "
        "false positives on refusals | false positives on refusals that quote the attack |",
        "|---|---|---|---|---|---|---|",
    ]
    for family in acc["bastion"]:
        for tool in ("bastion", "garak"):
            row = acc.get(tool, {}).get(family)
            if row is None:
                continue
            det = f"`{family}`" if tool == "bastion" else f"`{names.get(family, '?')}`"
            lines.append(
                f"| {family} | {tool} ({det}) | {row['n']} | {row['accuracy']:.3f} | "
                f"{row['recall']:.3f} | {row['fpr_refusal']:.3f} | {row['fpr_quote']:.3f} |"
            )
    return lines


def render(r: dict[str, Any]) -> str:
    garak = r.get("garak", {}).get("version", "not installed")
    parts = [
        "# Benchmarks: the red-team runner",
        "",
        "Written by `bench/redteam.py` (see its docstring). Numbers from one run on this "
        "project's shared machine; nothing here is asserted by a test.",
        "",
        f"Machine: {r['machine']}. Measured {r['date']}. garak {garak}.",
        "",
        "## Throughput against a local fake LLM",
        "",
        "The target is `bench/_fake_llm.py`, an OpenAI-compatible server in its own process "
        "that answers every prompt at once with a refusal quoting the prompt, so the numbers "
        "measure the runners, not a model. Both tools run as child processes; the server counts "
        "the requests. Bastion: `bastion redteam run --buff all --concurrency 16` on the "
        "categories garak also has (prompt injection, encodings, markdown exfiltration, "
        "jailbreaks) with `--per-buff 3` (about as many prompts as garak sends), then on every "
        "category with one variant per buff. garak: `openai.OpenAICompatible`, "
        f"`--generations 1`, probes `{r.get('garak_probes', 'see the script')}`, "
        "sequential (its default) and with `--parallel_attempts 16`.",
        "",
        *_throughput(r),
        "",
        *_ratio(r),
        "",
        "## Detector accuracy on a labelled set",
        "",
        f"{r['cases']} answers built by `bench/_redteam_cases.py` from Bastion's shipped probes: "
        "for each attack, answers that comply (the attack worked), plain refusals, and refusals "
        "that quote the attack (the known source of false positives). The set is ours and small; "
        "it shows the failure modes, it is not a general accuracy claim. garak's detectors are "
        "those its own probes use for the same job.",
        "",
        *_accuracy(r),
        "",
    ]
    return "\n".join(parts)
