"""Benchmark ``bastion scan`` against the peer model scanners and a ``cat`` floor.

    python bench/scan_bench.py [--out bench/out] [--only NAME ...] [--timeout 600]
                               [--skip-peers] [--regen]

Idempotent. The peers (modelscan, picklescan, fickling, modelaudit) go into their own venv
under ``--out``, never into the project's; the inputs are generated once into
``--out/inputs`` with the project venv's torch/joblib/scikit-learn (``--regen`` rebuilds
them). Every tool runs as a child process, one measurement at a time; results accumulate in
``--out/results.json`` (so ``--only bastion`` re-measures one tool and keeps the rest) and
the "Model scanner" section of ``docs/benchmarks.md`` is rewritten between its markers.
See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from _measure import Command, Run, cpu_model, measure

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "benchmarks.md"
START, END = "<!-- scan-bench:start -->", "<!-- scan-bench:end -->"
REPO_START, REPO_END = "<!-- scan-repo-bench:start -->", "<!-- scan-repo-bench:end -->"
PEERS = ("modelscan", "picklescan", "fickling", "modelaudit")
FLOOR = "floor (cat)"
#: fickling appends one JSON document per call to this file (in the tool's log folder).
FICKLING_JSON = "fickling-safety.json"
#: Bastion's JSON report, in its log folder.
BASTION_JSON = "report.json"
#: Environment for the peers: no telemetry, no network look-ups.
PEER_ENV = {
    "PROMPTFOO_DISABLE_TELEMETRY": "1",
    "NO_ANALYTICS": "1",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Input:
    key: str  # name used by --only and in results.json
    title: str
    rel: str  # path under <out>/inputs

    def path(self, out: Path) -> Path:
        return out / "inputs" / self.rel


INPUTS = (
    Input("tiny", "One tiny pickle (start-up time)", "tiny.pkl"),
    Input("checkpoint", "~1 GB PyTorch checkpoint (torch.save zip, float32 state dict)", "ckpt.pt"),
    Input("pickle", "~200 MB pickle of many small objects (protocol 4)", "many-objects.pkl"),
    Input("dir", "Directory of 1,000 small model files", "models-1000"),
)

#: A whole model repository, in a section of its own (``--only repo`` measures it alone).
REPO_INPUT = Input(
    "repo",
    "~2 GB model repository: safetensors shards, GGUF, ONNX, tokenizer and configs",
    "model-repo",
)
ALL_INPUTS = (*INPUTS, REPO_INPUT)

CKPT_LAYERS, CKPT_ROWS, CKPT_COLS = 30, 4096, 2048  # 30 x (4096x2048 + 4096) float32 = 1.0 GB
PICKLE_TARGET_BYTES = 200_000_000
DIR_FILES = 1000


def _record(i: int, score: float) -> dict[str, object]:
    return {
        "id": i,
        "name": f"item-{i}",
        "score": score,
        "tags": [i % 7, i % 13, f"t{i % 5}"],
        "pos": (i * 0.5, -i),
        "ok": i % 3 == 0,
    }


def gen_tiny(dest: Path) -> None:
    """One small model file: what a pre-commit hook or a CI step scans, where start-up
    time is all there is to measure."""
    import pickle

    state = {"layer.weight": [[0.5 * i + j for j in range(8)] for i in range(8)], "step": 1}
    with dest.open("wb") as f:
        pickle.dump(state, f, protocol=4)


def gen_checkpoint(dest: Path) -> None:
    import torch

    gen = torch.Generator().manual_seed(0)
    state = {}
    for i in range(CKPT_LAYERS):
        state[f"layers.{i}.weight"] = torch.randn(CKPT_ROWS, CKPT_COLS, generator=gen)
        state[f"layers.{i}.bias"] = torch.randn(CKPT_ROWS, generator=gen)
    torch.save(state, dest)


def gen_pickle(dest: Path) -> None:
    import pickle
    import random

    rng = random.Random(0)
    sample = pickle.dumps([_record(i, rng.random()) for i in range(100_000)], protocol=4)
    count = PICKLE_TARGET_BYTES * 100_000 // len(sample)
    rng = random.Random(0)
    data = [_record(i, rng.random()) for i in range(count)]
    with dest.open("wb") as f:
        pickle.dump(data, f, protocol=4)


def gen_dir(dest: Path) -> None:
    """250 each of: torch state dicts, plain pickles, joblib'd sklearn estimators, .npy."""
    import pickle
    import random

    import joblib
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    dest.mkdir(parents=True)
    rng = random.Random(0)
    nrng = np.random.default_rng(0)
    torch.manual_seed(0)
    x = nrng.normal(size=(64, 8))
    y = (x[:, 0] > 0).astype(int)
    estimators = (
        lambda: LogisticRegression(max_iter=200).fit(x, y),
        lambda: DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, y),
        lambda: StandardScaler().fit(x),
    )
    for i in range(DIR_FILES):
        kind = i % 4
        name = dest / f"model-{i:04d}"
        if kind == 0:
            width = rng.choice((8, 16, 24))
            state = {
                "fc1.weight": torch.randn(width, width),
                "fc1.bias": torch.randn(width),
                "fc2.weight": torch.randn(2, width),
            }
            torch.save(state, name.with_suffix(".pt"))
        elif kind == 1:
            obj = {
                "vocab": {f"tok{j}": j for j in range(rng.randint(50, 200))},
                "weights": [rng.random() for _ in range(rng.randint(50, 200))],
                "config": {"layers": rng.randint(1, 12), "act": "relu", "dims": (8, 16, 2)},
            }
            with name.with_suffix(".pkl").open("wb") as f:
                pickle.dump(obj, f, protocol=4)
        elif kind == 2:
            joblib.dump(estimators[i // 4 % 3](), name.with_suffix(".joblib"))
        else:
            np.save(name.with_suffix(".npy"), nrng.normal(size=(rng.choice((16, 24, 32)), 32)))


def gen_repo(dest: Path) -> None:
    """A Hugging Face-style folder of about 1.9 GB, every file benign: three safetensors
    shards (1.5 GB of float32) with their index, a GGUF export (float16) with a Llama-style
    chat template, an ONNX export (MatMul chain, 128 MB of initializers), tokenizer files,
    configs and a README. What a user downloads and scans before loading anything."""
    import gguf
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from safetensors.numpy import save_file

    dest.mkdir(parents=True)
    rng = np.random.default_rng(0)
    shards, per_shard, dim = 3, 8, 4096
    weight_map: dict[str, str] = {}
    total = 0
    for shard in range(shards):
        name = f"model-{shard + 1:05d}-of-{shards:05d}.safetensors"
        tensors = {}
        for i in range(per_shard):
            key = f"model.layers.{shard * per_shard + i}.mlp.down_proj.weight"
            tensors[key] = rng.standard_normal((dim, dim), dtype=np.float32)
            weight_map[key] = name
            total += tensors[key].nbytes
        save_file(tensors, str(dest / name), metadata={"format": "pt"})
        del tensors
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (dest / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))

    template = (
        "{{ bos_token }}{% for message in messages %}"
        "{% if message['role'] == 'system' %}<<SYS>>\n{{ message['content'] }}\n<</SYS>>\n\n"
        "{% elif message['role'] == 'user' %}[INST] {{ message['content'] | trim }} [/INST]"
        "{% else %} {{ message['content'] | trim }} {{ eos_token }}{% endif %}{% endfor %}"
    )
    writer = gguf.GGUFWriter(str(dest / "model-f16.gguf"), "llama")
    writer.add_name("bench")
    writer.add_context_length(4096)
    writer.add_chat_template(template)
    for i in range(4):
        writer.add_tensor(
            f"blk.{i}.ffn_down.weight", rng.standard_normal((dim, dim * 2)).astype(np.float16)
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    inits, nodes, prev = [], [], "input"
    for i in range(8):  # 8 x 16 MB of float32
        inits.append(
            numpy_helper.from_array(rng.standard_normal((2048, 2048), np.float32), f"w{i}")
        )
        nodes.append(helper.make_node("MatMul", [prev, f"w{i}"], [f"h{i}"]))
        prev = f"h{i}"
    graph = helper.make_graph(
        nodes,
        "bench",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 2048])],
        [helper.make_tensor_value_info(prev, TensorProto.FLOAT, [1, 2048])],
        initializer=inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
              str(dest / "model.onnx"))  # fmt: skip

    vocab = {f"tok{i}": i for i in range(32_000)}
    tokenizer = {"version": "1.0", "model": {"type": "BPE", "vocab": vocab, "merges": []}}
    (dest / "tokenizer.json").write_text(json.dumps(tokenizer))
    (dest / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>", "chat_template": template})
    )
    (dest / "special_tokens_map.json").write_text(json.dumps({"bos_token": "<s>"}))
    config = {"architectures": ["LlamaForCausalLM"], "hidden_size": dim, "torch_dtype": "float32"}
    (dest / "config.json").write_text(json.dumps(config, indent=2))
    (dest / "generation_config.json").write_text(json.dumps({"max_new_tokens": 256}))
    (dest / "README.md").write_text("# bench\n\nA generated model repository.\n")


GENERATORS: dict[str, Callable[[Path], None]] = {
    "repo": gen_repo,
    "tiny": gen_tiny,
    "checkpoint": gen_checkpoint,
    "pickle": gen_pickle,
    "dir": gen_dir,
}


def project_python() -> Path:
    """The project venv's interpreter (torch & co. live there), else this one."""
    candidate = REPO / ".venv" / "bin" / "python"
    return candidate if candidate.exists() else Path(sys.executable)


def ensure_input(inp: Input, out: Path, regen: bool) -> Path:
    """Generate ``inp`` into a temporary name in a child process, then rename it into place."""
    dest = inp.path(out)
    if dest.exists() and not regen:
        return dest
    tmp = dest.with_name(dest.name + ".tmp")
    for stale in (dest, tmp):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating {inp.key} -> {rel(dest)}", flush=True)
    argv = [str(project_python()), str(Path(__file__).resolve()), "--generate", inp.key]
    subprocess.run([*argv, "--dest", str(tmp)], check=True)
    tmp.rename(dest)
    return dest


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def size_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in files_under(path))


def warm_cache(path: Path) -> None:
    """Read every byte once (in chunks) so that all tools see a warm page cache."""
    for p in files_under(path):
        with p.open("rb") as f:
            while f.read(1 << 20):
                pass


# --------------------------------------------------------------------------- tools


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    version: str
    build: Callable[[Path, Path], list[Command]]  # (input path, work dir) -> commands
    invocation: str  # for the report


def peers_venv(out: Path) -> Path:
    return out / "peers-venv"


def ensure_peers(out: Path) -> dict[str, str]:
    """Create the peers' venv and install them from PyPI if missing; return their versions."""
    venv = peers_venv(out)
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {rel(venv)}", flush=True)
        subprocess.run([str(project_python()), "-m", "venv", str(venv)], check=True)
    versions = peer_versions(python)
    if any(v is None for v in versions.values()):
        print("installing " + " ".join(PEERS), flush=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, *PEERS], check=True)
        versions = peer_versions(python)
    return {k: v or "?" for k, v in versions.items()}


def peer_versions(python: Path) -> dict[str, str | None]:
    code = (
        "import json, importlib.metadata as m\n"
        "def v(n):\n"
        "    try:\n"
        "        return m.version(n)\n"
        "    except m.PackageNotFoundError:\n"
        "        return None\n"
        f"print(json.dumps({{n: v(n) for n in {list(PEERS)!r}}}))"
    )
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True)
    versions: dict[str, str | None] = json.loads(result.stdout)
    return versions


def bastion_exe() -> Path | None:
    candidate = REPO / ".venv" / "bin" / "bastion"
    if candidate.exists():
        return candidate
    found = shutil.which("bastion")
    return Path(found) if found else None


def compile_bastion(exe: Path) -> None:
    """Byte-compile the Bastion package the executable runs, as ``pip install`` does for
    the peers. An editable install under PYTHONDONTWRITEBYTECODE=1 has no .pyc files, and
    compiling about 60 modules on every start would be measured as Bastion's start-up."""
    python = exe.parent / "python"
    code = "import bastion, os; print(os.path.dirname(bastion.__file__))"
    where = _stdout([str(python), "-c", code])
    if where:
        subprocess.run([str(python), "-m", "compileall", "-q", where], check=False,
                       stdout=subprocess.DEVNULL)  # fmt: skip


def _stdout(argv: Sequence[str]) -> str:
    """A command's stdout, or "" if it fails (for version strings and help texts)."""
    result = subprocess.run(
        list(argv), check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    return result.stdout.strip()


def bastion_version() -> str:
    code = "import importlib.metadata as m; print(m.version('bastion-ml'))"
    version = _stdout([str(project_python()), "-c", code]) or "?"
    head = _stdout(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = _stdout(["git", "-C", str(REPO), "status", "--porcelain", "--", "src"])
    if head:
        version += f" ({head}{', src/ modified' if dirty else ''})"
    return version


def bastion_tool(exe: Path) -> Tool:
    """``bastion scan PATH --format json --output REPORT`` with the JSON report written into
    the log folder (like the peers' reports, which go to their stdout logs), or plain
    ``bastion scan PATH`` while the CLI lacks those flags."""
    help_text = _stdout([str(exe), "scan", "--help"])
    has_flags = "--format" in help_text and "--output" in help_text
    invocation = f"bastion scan PATH --format json --output {BASTION_JSON}"
    if not has_flags:
        invocation = "bastion scan PATH"

    def build(path: Path, work: Path) -> list[Command]:
        extra = ["--format", "json", "--output", str(work / BASTION_JSON)] if has_flags else []
        return [Command((str(exe), "scan", str(path), *extra), work)]

    return Tool("bastion", bastion_version(), build, invocation)


def peer_tools(out: Path, versions: dict[str, str], timeout: float) -> list[Tool]:
    bin_ = peers_venv(out) / "bin"

    def one(*args: str) -> Callable[[Path, Path], list[Command]]:
        def build(path: Path, work: Path) -> list[Command]:
            argv = tuple(str(path) if a == "PATH" else a for a in args)
            return [Command(argv, work, PEER_ENV)]

        return build

    def fickling(path: Path, work: Path) -> list[Command]:
        # fickling's CLI takes one pickle file per call: a folder is one call per file.
        report = str(work / FICKLING_JSON)
        exe = str(bin_ / "fickling")
        return [
            Command((exe, "--check-safety", "--json-output", report, str(f)), work, PEER_ENV)
            for f in files_under(path)
        ]

    audit_timeout = str(int(timeout))
    return [
        Tool("modelscan", versions["modelscan"], one(str(bin_ / "modelscan"), "-p", "PATH"),
             "modelscan -p PATH"),
        Tool("picklescan", versions["picklescan"], one(str(bin_ / "picklescan"), "-p", "PATH"),
             "picklescan -p PATH"),
        Tool("fickling", versions["fickling"], fickling,
             "fickling --check-safety --json-output F FILE (one call per file)"),
        Tool("modelaudit", versions["modelaudit"],
             one(str(bin_ / "modelaudit"), "scan", "--no-cache", "--timeout", audit_timeout,
                 "PATH"),
             f"modelaudit scan --no-cache --timeout {audit_timeout} PATH"),
    ]  # fmt: skip


def floor_tool() -> Tool:
    def build(path: Path, work: Path) -> list[Command]:
        # One `cat` with every file as an argument (1,000 paths fit in ARG_MAX many times).
        files = map(str, files_under(path))
        return [Command(("cat", *files), work, discard_stdout=True)]

    return Tool(FLOOR, "coreutils", build, "cat FILE... > /dev/null")


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Result:
    input: str
    tool: str
    version: str
    invocation: str
    runs: int
    run: Run
    verdict: str  # what the tool said about these benign files, briefly
    when: str
    load: float = -1.0  # 1-minute load average when the measurement started

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, object]) -> Result:
        run = data["run"]
        assert isinstance(run, dict)
        fields = {k: v for k, v in data.items() if k != "run"}
        return Result(run=Run(**run), **fields)  # type: ignore[arg-type]


def load_results(path: Path) -> dict[tuple[str, str], Result]:
    if not path.exists():
        return {}
    items = [Result.from_json(d) for d in json.loads(path.read_text())]
    return {(r.input, r.tool): r for r in items}


def save_results(path: Path, results: dict[tuple[str, str], Result]) -> None:
    path.write_text(json.dumps([r.to_json() for r in results.values()], indent=1) + "\n")


def read_log(path: Path, limit: int = 8 * 1024 * 1024) -> str:
    """A log's text, or its first and last ``limit`` bytes."""
    try:
        with path.open("rb") as f:
            size = path.stat().st_size
            if size <= 2 * limit:
                data = f.read()
            else:
                data = f.read(limit)
                f.seek(size - limit)
                data += b"\n...\n" + f.read()
    except OSError:
        return ""
    return re.sub(r"\x1b\[[0-9;]*m", "", data.decode(errors="replace"))


def _count(pattern: str, text: str, what: str) -> list[str]:
    n = len(re.findall(pattern, text, flags=re.MULTILINE))
    return [f"{n} {what}"] if n else []


def _said_modelscan(text: str) -> list[str]:
    said = re.findall(r"No issues found|Total Issues: *\d+|Total skipped: *\d+", text)
    errors = [int(n) for n in re.findall(r"^Error (\d+):", text, flags=re.MULTILINE)]
    return said + ([f"{max(errors)} scan errors"] if errors else [])


def _said_picklescan(text: str) -> list[str]:
    said = re.findall(r"(?:Scanned files|Infected files|Dangerous globals): *\d+", text)
    return said + _count(r"^ERROR: parsing pickle", text, "files failed to parse")


def _said_fickling(text: str) -> list[str]:
    said = _count(r"No pickle files detected", text, "x 'No pickle files detected'")
    severities = Counter(re.findall(r'"severity": "(\w+)"', text))
    said += [f"{n} x {severity}" for severity, n in severities.most_common()]
    reasons = re.findall(r"Resource limits were exceeded[^;.\n]*", text)
    return said + reasons[:1]


def _said_modelaudit(text: str) -> list[str]:
    said = re.findall(r"Found \d+ issues?[^\n]*|No issues found[^\n]*", text)[:1]
    banner = re.findall(r"^ *\W* *([A-Z][A-Z ;]{8,})$", text, flags=re.MULTILINE)
    gaps = re.findall(r"^ *• .*?: ([a-z_]+(?:, [a-z_]+)*)$", text, flags=re.MULTILINE)
    gaps = sorted({g for line in gaps for g in line.split(", ")})
    return said + banner[-1:] + ([f"coverage gaps: {', '.join(gaps[:6])}"] if gaps else [])


def _said_bastion(text: str) -> list[str]:
    return re.findall(r"^(?:[Ee]rror|Aborted)[^\n]{0,120}", text, flags=re.MULTILINE)[:2]


def bastion_summary(report: Path) -> list[str]:
    """Counts from Bastion's JSON report, and the first error or finding, if any."""
    try:
        data = json.loads(report.read_text())
        summary = data["summary"]
        files = data["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    keys = ("files", "clean", "with_findings", "errors", "skipped", "findings")
    said = [", ".join(f"{k} {summary[k]}" for k in keys if k in summary)]
    for f in files:
        for kind in ("errors", "findings"):
            for item in f.get(kind) or []:
                message = str(item.get("message", item))[:140]
                return [*said, f"first of the {kind}: {f.get('path', '?')}: {message}"]
    return said


SAID: dict[str, Callable[[str], list[str]]] = {
    "modelscan": _said_modelscan,
    "picklescan": _said_picklescan,
    "fickling": _said_fickling,
    "modelaudit": _said_modelaudit,
    "bastion": _said_bastion,
}


def said_in_logs(tool: str, log_dir: Path) -> list[str]:
    """What a tool's logs and reports say, briefly. Runs in a child process (``--summarize``):
    reading logs of 100+ MB would raise this process' peak RSS, which is the floor of every
    later child's ``ru_maxrss`` (see _measure.Run.harness_rss_kib)."""
    logs = ("stdout.txt", "stderr.txt", FICKLING_JSON)
    text = "\n".join(read_log(log_dir / name) for name in logs)
    said = SAID.get(tool)
    parts = said(text) if said else []
    if tool == "bastion":
        parts += bastion_summary(log_dir / BASTION_JSON)
    if "Traceback (most recent call last)" in text:
        last = [ln for ln in text.splitlines() if ln.strip()][-1]
        parts.append(f"traceback: {last.strip()[:120]}")
    return parts


def verdict(tool: str, run: Run, log_dir: Path) -> str:
    """A one-line summary of a run and of what the tool said, for the report's notes."""
    parts = [run.note] if run.note else []
    if run.timed_out:
        parts.append("timed out")
    elif run.signal is not None:
        parts.append(f"killed by signal {run.signal}")
    argv = [sys.executable, str(Path(__file__).resolve()), "--summarize", tool]
    said = _stdout([*argv, "--dest", str(log_dir)])
    with contextlib.suppress(ValueError):
        parts += json.loads(said)
    # No machine paths in the report: paths under the repository become relative.
    parts = [p.replace(f"{REPO}{os.sep}", "") for p in parts]
    if run.procs > 1:
        parts.append(
            f"{run.procs} processes; their summed RSS peaked at {run.tree_rss_kib / 1e3:.0f} MB"
        )
    return "; ".join(parts)


# --------------------------------------------------------------------------- report


def machine_line(versions: dict[str, str]) -> str:
    cpu = cpu_model()
    ram = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        ram = f"{kib / 1024**2:.0f} GiB"
    peers = ", ".join(f"{k} {v}" for k, v in versions.items())
    python = _stdout(
        [str(project_python()), "-c", "import platform; print(platform.python_version())"]
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {ram} RAM, {platform.system()} {platform.release()}, "
        f"Python {python} (Bastion's and the peers' venvs); peers: {peers}"
    )


def _fmt_run(r: Result) -> tuple[str, str, str, str]:
    run = r.run
    if run.timed_out:
        wall = f"timeout (>{run.wall_s:.0f})"
    elif run.exit_code is None:
        wall = f"{run.wall_s:.2f} (killed)"
    else:
        wall = f"{run.wall_s:.2f}"
    code = "-" if run.exit_code is None else str(run.exit_code)
    rss = f"{run.peak_rss_mb:.0f}"
    if run.rss_is_upper_bound:  # see _measure.Run.harness_rss_kib
        rss = f"<= {rss}"
        if run.tree_rss_kib:
            rss += f" (~{run.tree_rss_kib * 1024 / 1e6:.0f} sampled)"
    return wall, f"{run.cpu_s:.2f}", rss, code


def _load(r: Result) -> str:
    return f"{r.load:.1f}" if r.load >= 0 else "?"


def _ratio(a: Result | None, b: Result | None) -> str:
    if a is None or b is None or b.run.wall_s <= 0 or b.run.exit_code is None:
        return "-"
    prefix = ">" if a.run.timed_out else ""
    x = a.run.wall_s / b.run.wall_s
    digits = 0 if x >= 100 else 2 if x >= 0.1 else 3
    return f"{prefix}{x:,.{digits}f}x"


def table(inp: Input, out: Path, results: dict[tuple[str, str], Result]) -> list[str]:
    path = inp.path(out)
    n = size_bytes(path) if path.exists() else -1
    size = "not generated" if n < 0 else f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n:,} bytes"
    count = len(files_under(path)) if path.exists() else 0
    head = f"### {inp.title}\n\n`{shown(path, out)}`: {size}, {count:,} file(s).\n"
    rows = [
        head,
        "| tool | version | wall s | CPU s | peak RSS MB | exit | wall / Bastion | wall / floor "
        "| runs | load |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    bastion, floor = results.get((inp.key, "bastion")), results.get((inp.key, FLOOR))
    order = [FLOOR, "bastion", *PEERS]
    for name in order:
        r = results.get((inp.key, name))
        if r is None:
            continue
        wall, cpu, rss, code = _fmt_run(r)
        label = f"**{name}**" if name == "bastion" else name
        rows.append(
            f"| {label} | {r.version} | {wall} | {cpu} | {rss} | {code} | "
            f"{_ratio(r, bastion)} | {_ratio(r, floor)} | {r.runs} | {_load(r)} |"
        )
    notes = [f"- {r.tool}: {r.verdict}" for n in order if (r := results.get((inp.key, n)))]
    notes = [n for n in notes if not n.endswith(": ")]
    return [*rows, "", *notes, ""] if notes else [*rows, ""]


def _wall_cpu(r: Result) -> str:
    return f"{r.run.wall_s:.2f} s wall ({r.run.cpu_s:.2f} s CPU, exit {r.run.exit_code})"


def _verdict(ok: bool, bastion: Result) -> str:
    """A target is met only by a scan that ran to the end (exit 0 or 1)."""
    if bastion.run.exit_code not in (0, 1):
        return "NOT met (the scan did not finish: exit code not 0 or 1)"
    return "met" if ok else "NOT met"


def _peer(r: Result) -> str:
    return f"{r.tool} {r.run.wall_s:.2f} s wall ({r.run.cpu_s:.2f} s CPU, exit {r.run.exit_code})"


def targets(
    results: dict[tuple[str, str], Result], inputs: Sequence[Input] = INPUTS, previous: str = ""
) -> list[str]:
    """Target lines for ``inputs``; an input with no results at all is left to
    ``kept_lines`` when the page (``previous``) already has its section."""
    lines = []
    for inp in inputs:
        b = results.get((inp.key, "bastion"))
        peers = [r for p in PEERS if (r := results.get((inp.key, p)))]
        if b is None or b.run.exit_code is None or not peers:
            if has_results(inp, results) or not previous:
                lines.append(f"- {inp.key}: not measured")
            continue
        # A peer that exits 2 did not scan the input (fickling on a zip checkpoint: "No
        # pickle files detected"); its time is that of giving up, so the target is judged
        # against the fastest peer that returned a verdict, and a faster failure is named.
        completed = [r for r in peers if r.run.exit_code in (0, 1)]
        fastest = min(completed or peers, key=lambda r: r.run.wall_s)
        which = (
            "the fastest peer that scanned it (exit 0 or 1)" if completed else "the fastest peer"
        )
        line = (
            f"- fastest on {inp.key}: Bastion {_wall_cpu(b)} vs {which}, "
            f"{_peer(fastest)}: {_verdict(b.run.wall_s < fastest.run.wall_s, b)}"
        )
        failed = [r for r in peers if r not in completed and r.run.wall_s <= b.run.wall_s]
        if completed and failed:
            quick = min(failed, key=lambda r: r.run.wall_s)
            line += f"; faster without a verdict: {_peer(quick)}"
        lines.append(line)
    ck, fl = results.get(("checkpoint", "bastion")), results.get(("checkpoint", FLOOR))
    if ck and fl:
        ratio = ck.run.wall_s / fl.run.wall_s
        lines.append(
            f"- 1 GB checkpoint within 1.5x of the floor: Bastion {_wall_cpu(ck)} vs `cat` "
            f"{_wall_cpu(fl)}, {ratio:.2f}x: "
            f"{_verdict(ratio <= 1.5, ck)}"
        )
    pk = results.get(("pickle", "bastion"))
    if pk:
        ok = pk.run.wall_s < 60 and pk.run.peak_rss_mb < 100
        lines.append(
            f"- 200 MB pickle in seconds (taken as under 60 s wall) and under 100 MB peak RSS: "
            f"{_wall_cpu(pk)}, "
            f"{pk.run.peak_rss_mb:.0f} MB: {_verdict(ok, pk)}"
        )
    return lines


EXIT_CODES = (
    "Exit codes: bastion 0 clean, 1 findings, 2 a file not scanned to the end; modelscan, "
    "picklescan and modelaudit 0 clean, 1 issues found, 2 scan errors; fickling "
    "`--check-safety` 0 nothing found, 1 flagged as unsafe, 2 could not parse."
)
READING = (
    "How to read the tables: `wall / Bastion` above 1x means slower than Bastion, "
    "`wall / floor` is the multiple of the time `cat` takes to read the same bytes. "
    "Peak RSS is `ru_maxrss` from `os.wait4`: the largest single process of the tool's "
    "tree; `<= N` means the tool stayed at or under the harness' own footprint (Linux folds "
    "the parent's high-water mark into a child's `ru_maxrss` at `exec`), and a tool that ran "
    "several processes has their sampled summed RSS in its note. `load` is the 1-minute load "
    "average when the measurement started: on this 2-core machine anything above ~1 means "
    "other work shared the CPUs, which inflates wall time more than CPU time."
)


def render(out: Path, results: dict[tuple[str, str], Result], machine: str, argv: str) -> str:
    results = {k: r for k, r in results.items() if k[0] != REPO_INPUT.key}
    previous = _current_section()  # the page as it stands: tables of inputs not measured here
    stamps = sorted(r.when for r in results.values())
    span = f"{stamps[0]} to {stamps[-1]}" if stamps else "never"
    parts = [
        START,
        "## Model scanner",
        "",
        "`bastion scan` against the peer scanners, installed side by side in one run, and "
        "`cat FILE > /dev/null` as the floor (the time to read the bytes at all). Each tool "
        "runs as a child process, one at a time, with a warm page cache; wall time, CPU time "
        "(user + system) and peak RSS come from `os.wait4`. Runs under 20 s are repeated "
        "three times and the run with the median wall time is shown; longer ones run once. "
        "Written by `bench/scan_bench.py` (see `bench/README.md`).",
        "",
        f"Machine: {machine}. Measured {span}.",
        "",
        "Targets (from the issue): fastest on every input; within 1.5x of the floor on the "
        "1 GB checkpoint; the 200 MB many-object pickle in seconds and under 100 MB.",
        "",
        *targets(results, previous=previous),
        *kept_lines(results, previous),
        "",
    ]
    for inp in INPUTS:
        parts += (
            table(inp, out, results) if has_results(inp, results) else kept_table(inp, previous)
        )
    invocations = {r.tool: r.invocation for r in sorted(results.values(), key=lambda r: r.when)}
    parts += ["Invocations (PATH is the file or folder):", ""]
    parts += [f"- {tool}: `{inv}`" for tool, inv in invocations.items()]
    parts += [
        "",
        EXIT_CODES,
        "",
        READING,
        "",
        "How to reproduce (creates the peers' venv and the inputs under `bench/out/`, both "
        "git-ignored; about 1.3 GB of disk):",
        "",
        "```bash",
        f"python bench/scan_bench.py{argv}",
        "```",
        END,
    ]
    return "\n".join(parts) + "\n"


def has_results(inp: Input, results: dict[tuple[str, str], Result]) -> bool:
    return any(key == inp.key for key, _ in results)


def _current_section() -> str:
    text = DOC.read_text() if DOC.exists() else ""
    return text.split(START, 1)[1].split(END, 1)[0] if START in text and END in text else ""


def kept_table(inp: Input, section: str) -> list[str]:
    """The table of an input with no results in ``results.json`` (it was not measured in
    this work folder), as the page has it, marked as from an earlier run; nothing if none."""
    head = f"### {inp.title}"
    if head not in section:
        return []
    body = section.split(head, 1)[1].split("\n### ", 1)[0].split("\nInvocations", 1)[0]
    note = "(Kept from an earlier run of this script: not measured in this one.)"
    body = body.replace(note, "")
    return [head, "", note, "", *body.strip("\n").splitlines(), ""]


def kept_lines(results: dict[tuple[str, str], Result], section: str) -> list[str]:
    """Target lines of inputs without results, kept from the page (see ``kept_table``)."""
    lines = []
    for inp in INPUTS:
        if has_results(inp, results):
            continue
        prefixes = [f"- fastest on {inp.key}:"]
        if inp.key == "pickle":
            prefixes.append("- 200 MB pickle in seconds")
        if inp.key == "checkpoint":
            prefixes.append("- 1 GB checkpoint within 1.5x")
        for line in section.splitlines():
            if line.startswith(tuple(prefixes)):
                kept = " (earlier run)"
                lines.append(line if line.endswith(kept) else line + kept)
    return lines


def render_repo(out: Path, results: dict[tuple[str, str], Result], machine: str, argv: str) -> str:
    mine = [r for (key, _), r in results.items() if key == REPO_INPUT.key]
    stamps = sorted(r.when for r in mine)
    span = f"{stamps[0]} to {stamps[-1]}" if stamps else "never"
    parts = [
        REPO_START,
        "## Model scanner: a whole model repository",
        "",
        "The same harness on a generated Hugging Face-style folder in the formats models ship "
        "in (every file benign): what `bastion scan DIR` does before anything loads a "
        "downloaded model. Each peer is pointed at the folder as its documentation says; "
        "the notes say how many files each one actually looked at.",
        "",
        f"Machine: {machine}. Measured {span}.",
        "",
        "Speed means little without coverage: a tool that skips every file or finds nothing "
        "it can parse (see the notes under the table) is fast because it read nothing, and a "
        "tool that reads every file as a pickle flags the ones that are not. The target is "
        "read against the tools that examined every file.",
        "",
        *targets(results, (REPO_INPUT,)),
        "",
        *table(REPO_INPUT, out, results),
        "How to reproduce (about 1.9 GB of disk under `bench/out/`):",
        "",
        "```bash",
        f"python bench/scan_bench.py --only repo{argv}",
        "```",
        REPO_END,
    ]
    return "\n".join(parts) + "\n"


def write_doc(section: str, start: str = START, end: str = END) -> None:
    """Replace a section between its markers, keeping the rest of the file."""
    DOC.parent.mkdir(parents=True, exist_ok=True)
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text)


def shown(path: Path, out: Path) -> str:
    """A path for the report: relative to the repository, never a machine path."""
    inside = rel(path)
    return inside if not Path(inside).is_absolute() else f"OUT/{path.relative_to(out)}"


def rel(path: Path, base: Path = REPO) -> str:
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(base.resolve()))
    return str(path)


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=REPO / "bench" / "out", help="work folder")
    p.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="measure only this tool (bastion, floor, a peer) or input "
        f"({', '.join(i.key for i in ALL_INPUTS)}); repeatable. Other results are kept.",
    )
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per run (default 600)")
    p.add_argument("--skip-peers", action="store_true", help="measure only bastion and the floor")
    p.add_argument("--regen", action="store_true", help="regenerate the inputs")
    p.add_argument(
        "--report-only",
        action="store_true",
        help="measure nothing: rewrite docs/benchmarks.md from --out/results.json",
    )
    p.add_argument("--generate", choices=sorted(GENERATORS), help=argparse.SUPPRESS)
    p.add_argument("--summarize", metavar="TOOL", help=argparse.SUPPRESS)
    p.add_argument("--dest", type=Path, help=argparse.SUPPRESS)
    return p.parse_args(argv)


KNOWN_NAMES = {i.key for i in ALL_INPUTS} | {"bastion", "floor", "cat", FLOOR, *PEERS}


def selected(name: str, only: list[str]) -> bool:
    aliases = {FLOOR: {"floor", "cat"}}
    return not only or name in only or bool(aliases.get(name, set()) & set(only))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.generate:
        GENERATORS[args.generate](args.dest)
        return 0
    if args.summarize:
        print(json.dumps(said_in_logs(args.summarize, args.dest)))
        return 0
    unknown = sorted(set(args.only) - KNOWN_NAMES)
    if unknown:
        print(f"--only: unknown {', '.join(unknown)}; use {sorted(KNOWN_NAMES)}", file=sys.stderr)
        return 2
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    results_file = out / "results.json"
    results = load_results(results_file)
    if not args.report_only:
        measure_all(args, out, results, results_file)

    # Notes are re-read from each pair's log (that of its latest measurement), if still there.
    results = {k: refresh_verdict(r, out) for k, r in results.items()}
    versions = {p: r.version for p in PEERS for (_, t), r in results.items() if t == p}
    flags = "" if out == (REPO / "bench" / "out").resolve() else " --out DIR"
    # A section is rewritten only from results it has: measuring the repository alone
    # leaves the other section as it was.
    if any(key != REPO_INPUT.key for key, _ in results):
        write_doc(render(out, results, machine_line(versions), flags))
    if any(key == REPO_INPUT.key for key, _ in results):
        section = render_repo(out, results, machine_line(versions), flags)
        write_doc(section, REPO_START, REPO_END)
    print(f"wrote {rel(DOC)}; raw results in {rel(results_file)}")
    return 0


def measure_all(
    args: argparse.Namespace,
    out: Path,
    results: dict[tuple[str, str], Result],
    results_file: Path,
) -> None:
    """Measure every selected (input, tool) pair into ``results``, saving after each."""
    tools = [floor_tool()]
    exe = bastion_exe()
    if exe is None:
        print("bastion not found: no .venv/bin/bastion and none on PATH", file=sys.stderr)
    else:
        compile_bastion(exe)
        tools.append(bastion_tool(exe))
    if not args.skip_peers:
        tools += peer_tools(out, ensure_peers(out), args.timeout)
    input_keys = {i.key for i in ALL_INPUTS}
    only_inputs = [o for o in args.only if o in input_keys]
    only_tools = [o for o in args.only if o not in input_keys]
    for inp in ALL_INPUTS:
        if only_inputs and inp.key not in only_inputs:
            continue
        path = ensure_input(inp, out, args.regen)
        warm_cache(path)
        for tool in tools:
            if selected(tool.name, only_tools):
                results[(inp.key, tool.name)] = run_tool(tool, inp, path, out, args.timeout)
                save_results(results_file, results)


def clear_json(log_dir: Path) -> None:
    """Drop the reports of a previous run (fickling appends to its JSON), before each run."""
    for name in (FICKLING_JSON, BASTION_JSON):
        (log_dir / name).unlink(missing_ok=True)


def log_dir_of(out: Path, input_key: str, tool: str) -> Path:
    return out / "logs" / input_key / tool.split(maxsplit=1)[0]


def refresh_verdict(r: Result, out: Path) -> Result:
    log_dir = log_dir_of(out, r.input, r.tool)
    if not (log_dir / "stdout.txt").exists():
        return r
    return replace(r, verdict=verdict(r.tool, r.run, log_dir))


def run_tool(tool: Tool, inp: Input, path: Path, out: Path, timeout: float) -> Result:
    log_dir = log_dir_of(out, inp.key, tool.name)
    cmds = tool.build(path, log_dir)  # runs in its log folder: what it drops there, stays
    load = os.getloadavg()[0]
    print(f"[{inp.key}] {tool.name} ...", end=" ", flush=True)
    try:
        run, n = measure(cmds, log_dir, timeout, reset=lambda: clear_json(log_dir))
    except OSError as exc:  # e.g. the executable is missing
        run, n = Run(0.0, 0.0, 0, None, None, False, f"could not start: {exc}"), 0
    said = verdict(tool.name, run, log_dir)
    print(f"{run.wall_s:.2f} s wall, {run.cpu_s:.2f} s CPU, {run.peak_rss_mb:.0f} MB, "
          f"exit {run.exit_code}{' TIMEOUT' if run.timed_out else ''} ({n} run(s)) {said}",
          flush=True)  # fmt: skip
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return Result(inp.key, tool.name, tool.version, tool.invocation, n, run, said, when, load)


if __name__ == "__main__":
    raise SystemExit(main())
