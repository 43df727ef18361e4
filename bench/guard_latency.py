"""Latency of the guard: the default pipeline per request, and the proxy's added latency.

Usage::

    python bench/guard_latency.py [DATA_DIR] [--write docs/benchmarks-guard.md]

1. Pipeline: the default input pipeline on 1,000-token prompts built from benign
   development rows (tokens counted as ``bastion.guard.length.count_tokens`` counts
   them), and the default output pipeline on 1,000-token responses; p50 and p99 over
   ``--runs`` prompts after a warm-up.
2. Proxy: 50 concurrent streaming chat clients against a local fake upstream (a real
   uvicorn server), first directly, then through the proxy (another uvicorn server on
   the same machine); p50/p99 of the time to the last byte and requests per second.
   The difference is what the proxy adds (input rules, output rules on the stream,
   one more HTTP hop).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from _measure import cpu_model  # bench/ is the script's folder, first on sys.path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from bastion.guard import Guard  # noqa: E402
from bastion.guard.length import count_tokens  # noqa: E402

DEFAULT_DATA = ROOT / ".." / "shared" / "data" / "guard"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def prompts(data: Path, n: int, tokens: int = 1000) -> list[str]:
    texts = []
    with (data / "dev.jsonl").open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row["label"] == "benign" and "CC-BY-SA" not in row["licence"]:
                texts.append(row["text"])
    out: list[str] = []
    i = 0
    while len(out) < n:
        parts: list[str] = []
        while count_tokens("\n\n".join(parts)) < tokens:
            parts.append(texts[i % len(texts)])
            i += 1
        text = "\n\n".join(parts)
        # trim to ~tokens by characters, proportionally
        ratio = tokens / count_tokens(text)
        out.append(text[: int(len(text) * ratio)])
    return out


def bench_pipeline(data: Path, runs: int, llm_guard_python: str | None = None) -> list[str]:
    guard = Guard.default()
    items = prompts(data, runs)
    for t in items[:20]:
        guard.check_input(t)
        guard.check_output(t)
    rows = []
    for name, check in (("input", guard.check_input), ("output", guard.check_output)):
        times, cpu = [], []
        for t in items:
            c0, t0 = time.process_time(), time.perf_counter()
            check(t)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        rows.append(
            f"| default {name} pipeline | {statistics.mean(count_tokens(t) for t in items):.0f} | "
            f"{len(items)} | {pct(times, 0.5):.2f} | {pct(times, 0.99):.2f} | "
            f"{pct(cpu, 0.5):.2f} | {pct(cpu, 0.99):.2f} |"
        )
    peer = llm_guard_rows(llm_guard_python, items)
    return [
        "### Pipeline latency, 1,000-token texts (one process, one thread)",
        "",
        "Wall-clock time, and the CPU time of the process (`time.process_time`), which",
        "another job on the machine inflates less.",
        "",
        "| pipeline | tokens (mean) | runs | p50 ms | p99 ms | CPU p50 ms | CPU p99 ms |",
        "|---|---|---|---|---|---|---|",
        *rows,
        *peer,
    ]


def llm_guard_rows(python: str | None, items: list[str]) -> list[str]:
    """LLM Guard's offline input scanners on the same texts, run by LLM Guard's own
    interpreter (``bench/llm_guard_offline.py``); a note row when it is not given."""
    if not python:
        return ["| LLM Guard offline scanners | - | - | not run: pass --llm-guard-python"
                " (an interpreter with llm-guard installed) | | | |"]  # fmt: skip
    from llm_guard_offline import call

    output, error = call(python, "latency", json.dumps(items), ".json")
    if error is not None:
        return [f"| LLM Guard offline scanners | - | - | failed: {error} | | | |"]
    result = json.loads(output)
    tokens = statistics.mean(count_tokens(t) for t in items)
    return [
        f"| LLM Guard {result['version']} `{name}` | {tokens:.0f} | {r['runs']} | "
        f"{r['p50']:.2f} | {r['p99']:.2f} | {r['cpu_p50']:.2f} | {r['cpu_p99']:.2f} |"
        for name, r in result["rows"].items()
    ]


# -- proxy ----------------------------------------------------------------------


def fake_upstream(chunk_ms: float) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    answer = ("Otters are semi-aquatic mammals that hold hands while they sleep. " * 6).split(" ")

    async def chunks() -> AsyncIterator[bytes]:
        for i, word in enumerate(answer):
            last = i == len(answer) - 1
            chunk = {"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
                     "choices": [{"index": 0, "delta": {"content": word + " "},
                                  "finish_reason": "stop" if last else None}]}  # fmt: skip
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            await asyncio.sleep(chunk_ms / 1000)
        yield b"data: [DONE]\n\n"

    async def chat(request: Request) -> StreamingResponse:
        await request.body()
        return StreamingResponse(chunks(), media_type="text/event-stream")

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[
        Route("/v1/chat/completions", chat, methods=["POST"]), Route("/healthz", health),
    ])  # fmt: skip


def _serve(app: Any, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", ws="none")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """This script again, in its own process (its own GIL), serving one app."""

    def __init__(self, *args: str) -> None:
        self.port = _free_port()
        cmd = [sys.executable, __file__, "--serve", *args, "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd)

    def __enter__(self) -> Process:
        import httpx

        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def __exit__(self, *a: object) -> None:
        self.proc.terminate()
        self.proc.wait(10)

    def cpu(self) -> float | None:
        """Seconds of CPU (user + system) the process has used so far; None off Linux."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    urls: list[str], key: str, clients: int, per_client: int
) -> tuple[list[list[float]], list[list[float]], float]:
    """``clients`` concurrent streaming clients, each sending ``per_client`` requests to
    every URL in turn (half the clients start with the first URL, half with the second,
    so both paths see the same machine at the same moments); per URL, the times to the
    first and to the last byte of each answer (ms), and requests per second overall.
    aiohttp rather than httpx: the load generator shares the two cores with the
    servers, and aiohttp costs it about half the CPU per chunk."""
    import aiohttp

    message = {"role": "user", "content": "Tell me something nice about otters."}
    body = json.dumps({"model": "m", "stream": True, "messages": [message]}).encode()
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    first: list[list[float]] = [[] for _ in urls]
    last: list[list[float]] = [[] for _ in urls]

    async def request(session: aiohttp.ClientSession, which: int) -> None:
        t0 = time.perf_counter()
        async with session.post(urls[which], data=body, headers=headers) as r:
            r.raise_for_status()
            seen = False
            async for _ in r.content.iter_any():
                if not seen:
                    first[which].append((time.perf_counter() - t0) * 1000)
                    seen = True
        last[which].append((time.perf_counter() - t0) * 1000)

    async def one(session: aiohttp.ClientSession, client: int) -> None:
        for _ in range(per_client):
            for i in range(len(urls)):
                await request(session, (i + client) % len(urls))

    connector = aiohttp.TCPConnector(limit=clients * 2 * len(urls))
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # every client's connections opened (one request per URL) before the clock starts
        await asyncio.gather(*(one_warm(session, url, body, headers) for url in urls
                               for _ in range(clients)))  # fmt: skip
        for times in (*first, *last):
            times.clear()
        t0 = time.perf_counter()
        await asyncio.gather(*(one(session, c) for c in range(clients)))
        wall = time.perf_counter() - t0
    return first, last, clients * per_client * len(urls) / wall


async def one_warm(session: Any, url: str, body: bytes, headers: dict[str, str]) -> None:
    async with session.post(url, data=body, headers=headers) as r:
        await r.read()


def bench_proxy(clients: int, per_client: int, chunk_ms: float) -> list[str]:
    from bastion.guard.proxy import generate_key

    key, digest = generate_key()
    with Process("upstream", str(chunk_ms)) as up:
        upstream = f"http://127.0.0.1:{up.port}/v1"
        with Process("proxy", upstream, digest) as proxy:
            via = f"http://127.0.0.1:{proxy.port}/v1/chat/completions"
            px0 = proxy.cpu()
            (d_first, p_first), (direct, proxied), rps = asyncio.run(
                load([upstream + "/chat/completions", via], key, clients, per_client)
            )
            px1 = proxy.cpu()
    rows = [
        f"| {name} | {len(t)} | {pct(f, 0.5):.1f} | {pct(f, 0.99):.1f} | "
        f"{pct(t, 0.5):.1f} | {pct(t, 0.99):.1f} |"
        for name, f, t in (
            ("direct to upstream", d_first, direct),
            ("through the proxy", p_first, proxied),
        )
    ]
    added_first = pct(p_first, 0.5) - pct(d_first, 0.5)
    added50 = pct(proxied, 0.5) - pct(direct, 0.5)
    added99 = pct(proxied, 0.99) - pct(direct, 0.99)
    cpu = ""
    if px0 is not None and px1 is not None:
        # the warm-up requests (one per client) count in the proxy's CPU
        n = len(proxied) + clients
        cpu = (
            f" The proxy process used {(px1 - px0) * 1000 / n:.2f} ms of CPU per request"
            " (user + system, from /proc)."
        )
    pace = 1000 / chunk_ms
    return [
        f"### Proxy, {clients} concurrent streaming clients, a chunk every {chunk_ms:g} ms",
        "",
        "Upstream, proxy and load generator each run in their own process on the same",
        f"machine. The fake upstream streams 60 chunks (one word each) {chunk_ms:g} ms apart",
        f"({pace:.0f} tokens per second per stream). Each of the {clients} clients opens its",
        f"connections before the clock starts, then sends {per_client} streaming requests",
        "directly and as many through the proxy, alternating, so that both paths share the",
        f"machine's load; {rps:.0f} requests per second in all.",
        "",
        "| path | requests | first byte p50 ms | first byte p99 ms | last byte p50 ms |"
        " last byte p99 ms |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Added by the proxy at p50: {added_first:.1f} ms to the first byte, {added50:.1f} ms to"
        f" the last byte (p99 {added99:.1f} ms).{cpu}",
    ]


def serve(args: argparse.Namespace) -> None:
    from bastion.guard.proxy import KeyStore, ProxyConfig, create_app
    from bastion.guard.proxy.keys import ApiKey

    if args.serve[0] == "upstream":
        app = fake_upstream(float(args.serve[1]))
    else:
        _, upstream, digest = args.serve
        config = ProxyConfig(upstream=upstream, keys=KeyStore([ApiKey("bench", digest)]),
                             requests_per_minute=10**9, tokens_per_minute=10**12)  # fmt: skip
        app = create_app(config)
    _serve(app, args.port)


def machine() -> str:
    cpu = cpu_model()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--per-client", type=int, default=4)
    ap.add_argument(
        "--chunk-ms",
        type=float,
        nargs="+",
        default=[20.0, 2.0],
        help="the fake upstream's gap between chunks; one proxy run per value (default: 20,"
        " a served model's pace of 50 tokens/s per stream, then 2, a stress run)",
    )
    ap.add_argument("--write", type=Path, default=None, help="markdown file to append to")
    ap.add_argument("--no-pipeline", action="store_true", help="only the proxy measurement")
    ap.add_argument(
        "--llm-guard-python",
        default=os.environ.get("LLM_GUARD_PYTHON"),
        help="an interpreter with llm-guard installed: its offline input scanners are timed"
        " on the same texts (default: $LLM_GUARD_PYTHON; not run without one)",
    )
    ap.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args)
        return 0
    load1 = os.getloadavg()[0]
    lines = [f"Machine: {machine()}; load average {load1:.1f} when the run started.", ""]
    if not args.no_pipeline:
        lines += [*bench_pipeline(args.data, args.runs, args.llm_guard_python), ""]
    for chunk_ms in args.chunk_ms:
        lines += [*bench_proxy(args.clients, args.per_client, chunk_ms), ""]
    md = "\n".join(lines)
    print(md)
    if args.write:
        with args.write.open("a", encoding="utf-8") as fh:
            fh.write("\n" + md + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
