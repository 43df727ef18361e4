"""LLM Guard's offline input scanners, on the texts Bastion's guard benchmarks use.

LLM Guard is not a Bastion dependency (it pulls in torch, transformers, presidio and
spaCy), so this script runs under LLM Guard's own interpreter; ``guard_latency.py`` and
``guard_eval.py`` call it when given ``--llm-guard-python``::

    python bench/llm_guard_offline.py latency TEXTS.json    # JSON list of texts
    python bench/llm_guard_offline.py flags ROWS.jsonl      # one {"text": ...} per line

``latency`` prints one JSON object: per scanner and for all of them together (through
``llm_guard.scan_prompt``), p50/p99 wall and CPU milliseconds per text. ``flags``
prints one JSON line per row: the scanners that found the row invalid.

Only the scanners that run without a model download are used ("offline"):
``InvisibleText``, ``Secrets`` (detect-secrets' plugins), ``BanSubstrings`` and
``Regex``. The last two come with no list of their own; they get the injection and
jailbreak phrases below, the kind of list a user of them writes (and what Vigil's YARA
rules look for). ``TokenLimit`` is left out: its tokenizer file is downloaded on first use.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

PHRASES = [
    "ignore previous instructions",
    "ignore all previous instructions",
    "ignore the above",
    "ignore your instructions",
    "disregard previous instructions",
    "disregard all prior",
    "forget your instructions",
    "forget all previous",
    "new instructions:",
    "system prompt",
    "reveal your instructions",
    "developer mode",
    "do anything now",
    "jailbreak",
    "no restrictions",
    "without any restrictions",
    "pretend you are",
    "you are no longer",
]
PATTERNS = [
    r"(?i)\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions|rules|guidelines|prompt)\b",
    r"(?i)\b(print|reveal|show|repeat)\b.{0,30}\b(system prompt|instructions)\b",
    r"(?i)\bDAN\b|\bSTAN\b|\bAIM\b",
]


def scanners() -> list[tuple[str, Any]]:
    from llm_guard.input_scanners import BanSubstrings, InvisibleText, Regex, Secrets

    return [
        ("InvisibleText", InvisibleText()),
        ("Secrets", Secrets()),
        ("BanSubstrings", BanSubstrings(PHRASES, match_type="str", case_sensitive=False)),
        ("Regex", Regex(PATTERNS, is_blocked=True, match_type="search", redact=False)),
    ]


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def latency(texts: list[str]) -> dict[str, Any]:
    from importlib.metadata import version

    from llm_guard import scan_prompt

    chosen = scanners()
    for text in texts[:20]:  # warm-up: detect-secrets loads its plugins on first use
        scan_prompt([s for _, s in chosen], text)
    out: dict[str, Any] = {"version": version("llm-guard"), "rows": {}}
    jobs: list[tuple[str, Any]] = [(name, lambda t, s=s: s.scan(t)) for name, s in chosen]
    jobs.append(("all four (scan_prompt)", lambda t: scan_prompt([s for _, s in chosen], t)))
    for name, run in jobs:
        wall, cpu = [], []
        for text in texts:
            c0, t0 = time.process_time(), time.perf_counter()
            run(text)
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        out["rows"][name] = {
            "runs": len(texts),
            "p50": _pct(wall, 0.5),
            "p99": _pct(wall, 0.99),
            "cpu_p50": _pct(cpu, 0.5),
            "cpu_p99": _pct(cpu, 0.99),
        }
    return out


def flags(rows: Path) -> None:
    chosen = scanners()
    with rows.open(encoding="utf-8") as fh:
        for line in fh:
            text = json.loads(line)["text"]
            failed = [name for name, s in chosen if not s.scan(text)[1]]
            sys.stdout.write(json.dumps({"rules": failed}) + "\n")


def call(python: str, mode: str, payload: str, suffix: str) -> tuple[str, str | None]:
    """Run this script under ``python`` (LLM Guard's interpreter) in ``mode`` on
    ``payload`` written to a temporary file: its standard output, and the last line of its
    errors when it failed (None when it did not). Used by the Bastion-side scripts."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=suffix, encoding="utf-8") as fh:
        fh.write(payload)
        fh.flush()
        try:
            done = subprocess.run(  # an argv list, this script
                [python, __file__, mode, fh.name], capture_output=True, text=True, check=False
            )
        except OSError as exc:
            return "", f"cannot run {python}: {exc.strerror or exc}"
    if done.returncode != 0:
        return "", (done.stderr.strip().splitlines() or ["no output"])[-1][:160]
    return done.stdout, None


def main(argv: list[str]) -> int:
    import logging

    logging.disable(logging.WARNING)  # LLM Guard logs every finding at warning level
    try:
        import structlog

        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    except ImportError:
        pass
    if len(argv) != 2 or argv[0] not in ("latency", "flags"):
        sys.stderr.write(__doc__ or "")
        return 2
    if argv[0] == "latency":
        texts = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        print(json.dumps(latency(texts)))
    else:
        flags(Path(argv[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
