"""Benchmark: ``bastion push``/``pull`` of a 1 GB model against a plain file copy and against
MLflow's artifact log/download of the same files, in the same run.

    python bench/registry_bench.py                  # 1 GB model in bench/out/registry-model
    python bench/registry_bench.py --size-mb 200    # a quick look
    python bench/registry_bench.py --skip-mlflow

Bastion runs as ``bastion up`` in a child process (TLS with its generated certificate,
SQLite, every file scanned, hashed and encrypted on the way in, decrypted and verified on
the way out, the client checking digests before it renames); the client is
:class:`bastion.client.Client` in this process. MLflow runs as ``mlflow server
--serve-artifacts`` (plain HTTP, no scanning, no encryption) from its own venv under
``bench/out/mlflow-venv`` (installed with pip on first use), its client in a child process
of that venv. The floor is :func:`shutil.copytree` of the same folder (page cache warm, no
fsync). Each measurement is repeated ``--repeats`` times; the median is reported. Results go
to ``docs/benchmarks-registry.md`` and ``bench/out/registry-results.json``. A script, not a
test: nothing asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
DOC = ROOT / "docs" / "benchmarks-registry.md"


def make_model(folder: Path, total_mb: int) -> int:
    """One valid safetensors file of ``total_mb`` MB (uint8 random weights) and a config."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.safetensors"
    n = total_mb * 1_000_000
    header = json.dumps({"weight": {"dtype": "U8", "shape": [n], "data_offsets": [0, n]}}).encode()
    header += b" " * (-len(header) % 8)
    want = 8 + len(header) + n
    if not path.exists() or path.stat().st_size != want:
        with path.open("wb") as out:
            out.write(len(header).to_bytes(8, "little") + header)
            left = n
            while left:
                chunk = min(left, 8 << 20)
                out.write(os.urandom(chunk))
                left -= chunk
    (folder / "config.json").write_text(json.dumps({"architectures": ["Bench"], "layers": 24}))
    return sum(p.stat().st_size for p in folder.iterdir())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def median_time(fn, repeats: int, runs: list[float] | None = None) -> float:  # type: ignore[no-untyped-def]
    """The median wall time of ``repeats`` calls; each time is also added to ``runs``."""
    times = []
    for i in range(repeats):
        # Write back what earlier runs left dirty first: otherwise a run pays for the
        # previous one's writes (the plain copy swung from 0.6 to 2.5 s without this).
        os.sync()
        started = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - started)
    if runs is not None:
        runs.extend(times)
    return statistics.median(times)


def bench_copy(model: Path, repeats: int, runs: list[float]) -> float:
    def run(i: int) -> None:
        dst = OUT / f"copy-{i}"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(model, dst)

    seconds = median_time(run, repeats, runs)
    for i in range(repeats):
        shutil.rmtree(OUT / f"copy-{i}", ignore_errors=True)
    return seconds


def bench_floor(tls_dir: Path) -> dict[str, float]:
    """CPU seconds per GB of the work a pull cannot skip, measured here: SHA-256 of the
    data (the client's check), and TLS over loopback through Python's ssl module, both
    ends together (1 MiB sends, ``recv_into`` a 1 MiB buffer)."""
    import hashlib
    import ssl
    import threading

    sys.path.insert(0, str(ROOT / "src"))
    from bastion.server.tls import ensure_certificate

    def cpu() -> float:
        t = os.times()
        return t.user + t.system

    block, blocks = os.urandom(1 << 20), 1024
    gb = blocks * len(block) / 1e9
    started = cpu()
    sha = hashlib.sha256()
    for _ in range(blocks):
        sha.update(block)
    out = {"sha256": (cpu() - started) / gb}
    cert, key = tls_dir / "cert.pem", tls_dir / "key.pem"
    tls_dir.mkdir(parents=True, exist_ok=True)
    ensure_certificate(cert, key)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    client_ctx.check_hostname = False
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def send() -> None:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                for _ in range(blocks):
                    tls.sendall(block)

        sender = threading.Thread(target=send)
        sender.start()
        raw = socket.create_connection(("127.0.0.1", port))
        with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            view, got = memoryview(bytearray(1 << 20)), 0
            started = cpu()
            while got < blocks << 20 and (n := tls.recv_into(view)):
                got += n
            sender.join()
            out["tls"] = (cpu() - started) / gb
    return out


def start_bastion(data: Path) -> tuple[subprocess.Popen[str], str, str]:
    shutil.rmtree(data, ignore_errors=True)
    port = free_port()
    code = "from bastion.cli.main import main; main()"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "up", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    token = None
    for line in proc.stdout:
        found = re.search(r"(bst_[0-9a-f]{12}_[A-Za-z0-9_-]{43})", line)
        if found:
            token = found[1]
        if "Uvicorn running" in line or "Application startup complete" in line:
            break
    if token is None:
        proc.kill()
        raise RuntimeError("bastion up did not print a token")
    return proc, f"https://127.0.0.1:{port}", token


def bench_bastion(model: Path, repeats: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT / "src"))
    from bastion.client import Client

    data = OUT / "registry-data"
    proc, url, token = start_bastion(data)
    try:
        with Client(url, token, ca_cert=data / "tls" / "cert.pem") as client:
            client.create_namespace("bench")
            states: list[str] = []

            def push(i: int) -> None:
                states.append(client.push(model, f"bench/model:{i}")["state"])

            def pull(i: int) -> None:
                dst = OUT / f"pull-{i}"
                shutil.rmtree(dst, ignore_errors=True)
                client.pull(f"bench/model:{i}", dst)

            push_s = median_time(push, repeats)
            pull_s = median_time(pull, repeats)
            assert set(states) == {"committed"}, states
            for i in range(repeats):
                same = (OUT / f"pull-{i}" / "model.safetensors").stat().st_size
                assert same == (model / "model.safetensors").stat().st_size
                shutil.rmtree(OUT / f"pull-{i}", ignore_errors=True)
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data, ignore_errors=True)
    return {"push": push_s, "pull": pull_s}


MLFLOW_CLIENT = r"""
import json, os, sys, time, shutil
import mlflow
url, model, dst, repeats = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
mlflow.set_tracking_uri(url)
push, pull = [], []
for i in range(repeats):
    os.sync()
    with mlflow.start_run() as run:
        t = time.perf_counter(); mlflow.log_artifacts(model); push.append(time.perf_counter() - t)
    out = f"{dst}-{i}"
    shutil.rmtree(out, ignore_errors=True)
    os.sync()
    t = time.perf_counter()
    mlflow.artifacts.download_artifacts(run_id=run.info.run_id, dst_path=out)
    pull.append(time.perf_counter() - t)
    shutil.rmtree(out, ignore_errors=True)
print(json.dumps({"push": push, "pull": pull, "version": mlflow.__version__}))
"""


def mlflow_python() -> Path | None:
    venv = OUT / "mlflow-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    probe = subprocess.run([str(python), "-c", "import mlflow"], capture_output=True, check=False)
    if probe.returncode != 0:
        install = subprocess.run([str(python), "-m", "pip", "install", "-q", "mlflow"], check=False)
        if install.returncode != 0:
            return None
    return python


def bench_mlflow(model: Path, repeats: int) -> dict[str, object] | str:
    python = mlflow_python()
    if python is None:
        return "mlflow could not be installed with pip"
    work = OUT / "mlflow-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    port = free_port()
    server = subprocess.Popen(
        [
            str(python.parent / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{work / 'mlflow.db'}",
            "--artifacts-destination",
            str(work / "artifacts"),
            "--serve-artifacts",
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(120):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(1)
        result = subprocess.run(
            [
                str(python),
                "-c",
                MLFLOW_CLIENT,
                f"http://127.0.0.1:{port}",
                str(model),
                str(OUT / "mlflow-pull"),
                str(repeats),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            return f"mlflow client failed: {result.stderr[-500:]}"
        raw = json.loads(result.stdout.strip().splitlines()[-1])
        return {
            "push": statistics.median(raw["push"]),
            "pull": statistics.median(raw["pull"]),
            "version": raw["version"],
        }
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(work, ignore_errors=True)


def write_report(results: dict[str, object]) -> None:
    mb = float(results["bytes"]) / 1e6  # type: ignore[arg-type]
    copy = float(results["copy"])  # type: ignore[arg-type]
    copy_runs = [float(x) for x in results.get("copy_runs") or [copy]]  # type: ignore[attr-defined]
    fastest = min(copy_runs)
    b = results["bastion"]
    m = results["mlflow"]
    assert isinstance(b, dict)

    def row(name: str, seconds: float) -> str:
        return f"| {name} | {seconds:.2f} s | {mb / seconds:,.0f} MB/s | {copy / seconds:.2f}x |"

    lines = [
        "# Benchmarks: the model registry",
        "",
        "`bench/registry_bench.py` pushes and pulls one model (a "
        f"{mb:,.0f} MB safetensors file and a config) through `bastion up` and through MLflow's "
        "artifact store, with a plain `shutil.copytree` of the same folder as the floor, all in "
        "one run. Median of "
        f"{results['repeats']} runs each.",
        "",
        f"Machine: {results['machine']}. Measured {results['when']}; 1-minute load average "
        f"{results['load_before']:.1f} before and {results['load_after']:.1f} after the run "
        "(the machine is shared: a load above the 2 cores slows every row, peers included).",
        "",
        "Bastion: `bastion up` in a child process, TLS with its self-signed certificate, SQLite; "
        "every file hashed, scanned and encrypted (AES-256-GCM segments, per-blob data key) in one "
        "streaming pass and fsynced on push; decrypted, verified and checked against its "
        "`Repr-Digest` by the client before the rename on pull. MLflow: `mlflow server "
        "--serve-artifacts` over plain HTTP, no scanning, no encryption.",
        "",
        "| what | time | throughput | speed vs copy |",
        "|---|---|---|---|",
        row("plain copy (`shutil.copytree`), median", copy),
        row("plain copy, fastest run", fastest),
        row("bastion push", float(b["push"])),
        row("bastion pull", float(b["pull"])),
    ]
    if isinstance(m, dict):
        lines += [
            row(f"MLflow {m['version']} `log_artifacts`", float(m["push"])),  # type: ignore[arg-type]
            row(f"MLflow {m['version']} `download_artifacts`", float(m["pull"])),  # type: ignore[arg-type]
            "",
            f"Bastion vs MLflow: push {float(m['push']) / float(b['push']):.2f}x, "  # type: ignore[arg-type]
            f"pull {float(m['pull']) / float(b['pull']):.2f}x MLflow's speed.",  # type: ignore[arg-type]
        ]
    else:
        lines += ["", f"MLflow: not measured ({m})."]

    def verdict(floor: float) -> str:
        push, pull = floor / float(b["push"]), floor / float(b["pull"])
        return (
            f"push {push:.2f}x ({'met' if push >= 0.5 else 'NOT met'}), "
            f"pull {pull:.2f}x ({'met' if pull >= 0.5 else 'NOT met'})"
        )

    spread = ", ".join(f"{x:.2f}" for x in copy_runs)
    lines += [
        "",
        "Target (from the issue): push and pull at least half the speed of a plain copy. "
        f"Against the median copy: {verdict(copy)}. Against the fastest copy: "
        f"{verdict(fastest)}. The copy's runs took {spread} s. On this virtual machine the "
        "same copy of 1 GB took 0.26 s and 1.73 s in back-to-back runs, almost all of it "
        "system time spent writing the new file's pages, and pull, which writes as much, "
        "swings with it: compare rows within one run only.",
        "",
    ]
    lines += [
        "Where the time goes (py-spy of the server and cProfile of the client, 300 MB): on "
        "push the server decrypts TLS on its event loop while a worker thread hashes "
        "(SHA-256), encrypts (AES-256-GCM) and writes the previous 1 MiB batch, fsyncs the "
        "blob, then the scanner reads it back through the decrypting reader (a safetensors "
        "file: its header only); the client hashes what it sends to check the digest the "
        "server stored. On pull the server decrypts and verifies each 1 MiB segment in a worker "
        "thread and encrypts TLS on its event loop; the client fills 1 MiB blocks with "
        "http.client's `readinto` (httpx's per-record parsing took a third more CPU), hashes "
        "and writes them. Both ends "
        "share the same 2 cores, so every byte pays TLS twice and SHA-256 twice on one "
        "machine. MLflow's artifact store skips TLS, scanning, encryption and digests.",
        "",
    ]
    floor = results.get("floor")
    if isinstance(floor, dict):
        need = (floor["sha256"] + floor["tls"]) / 2
        lines += [
            f"The least a pull can cost, measured in this run: SHA-256 takes {floor['sha256']:.2f} "
            f"CPU-s per GB (the client's check), TLS over loopback {floor['tls']:.2f} CPU-s per "
            f"GB for both ends together; with nothing else (no HTTP, no decryption at rest, no "
            f"write, no server-side check) that is {need:.2f} s per GB spread over both cores, "
            f"or {1000 / need:,.0f} MB/s at best. Half the fastest copy of this run asks for "
            f"{mb / fastest / 2:,.0f} MB/s, half the median copy {mb / copy / 2:,.0f} MB/s.",
            "",
        ]
    DOC.write_text("\n".join(lines), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    model = OUT / "registry-model"
    size = make_model(model, args.size_mb)
    results: dict[str, object] = {
        "bytes": size,
        "repeats": args.repeats,
        "machine": f"{os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}",
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": os.getloadavg()[0],
    }
    results["floor"] = bench_floor(OUT / "registry-floor-tls")
    print(f"floor: {results['floor']}", flush=True)
    copies: list[float] = []
    results["copy"] = bench_copy(model, args.repeats, copies)
    results["copy_runs"] = copies
    print(f"copy: {results['copy']:.2f} s (runs {copies})", flush=True)
    results["bastion"] = bench_bastion(model, args.repeats)
    print(f"bastion: {results['bastion']}", flush=True)
    results["mlflow"] = (
        "skipped (--skip-mlflow)" if args.skip_mlflow else bench_mlflow(model, args.repeats)
    )
    print(f"mlflow: {results['mlflow']}", flush=True)
    results["load_after"] = os.getloadavg()[0]
    (OUT / "registry-results.json").write_text(json.dumps(results, indent=2))
    write_report(results)


if __name__ == "__main__":
    main()
