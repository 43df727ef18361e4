"""The malicious corpus is live: each payload, loaded the way a victim would, leaves its trace.

Without this, a builder with a typo would make the scanner tests vacuous. Each payload is
loaded in a child process whose only effects are inside this test's temporary folder
(a trace file, a deleted sentinel folder, a connection to a local listener).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from .conftest import Traces
from .corpus import malicious
from .corpus._types import Case, Live

LOADER = r"""
import copyreg, io, pickle, sys
kind, path, offset, codec = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
for spec in sys.argv[5:]:
    module, name, code = spec.split(":")
    copyreg.add_extension(module, name, int(code))

class Unpickler(pickle.Unpickler):
    def persistent_load(self, pid):
        return pid

if kind == "pickle":
    opener = __import__(codec).open if codec else open
    with opener(path, "rb") as f:
        f.seek(offset)
        buf = io.BytesIO(f.read())
    while buf.tell() < len(buf.getvalue()):
        Unpickler(buf).load()
elif kind == "torch":
    import torch
    torch.load(path, weights_only=False)
elif kind == "numpy":
    import numpy as np
    loaded = np.load(path, allow_pickle=True)
    for key in getattr(loaded, "files", []):
        loaded[key]
elif kind == "joblib":
    import joblib
    joblib.load(path)
elif kind == "zipfile":
    import zipfile
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            if info.filename.endswith(".pkl"):
                Unpickler(io.BytesIO(zf.read(info))).load()
else:
    import tarfile
    with tarfile.open(path) as tf:
        for member in tf.getmembers():
            if member.isfile() and member.name.endswith(".pkl"):
                Unpickler(tf.extractfile(member)).load()
"""


def _run_payload(live: Live, path: str, cwd: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **dict(live.env)}
    if live.pythonpath:
        env["PYTHONPATH"] = live.pythonpath
    exts = [f"{m}:{n}:{code}" for m, n, code in live.extensions]
    return subprocess.run(
        [sys.executable, "-c", LOADER, live.loader, path, str(live.offset), live.codec, *exts],
        input="c\n",  # pdb.run waits at its prompt: continue
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        check=False,
    )


def _trace_appeared(live: Live, traces: Traces) -> bool:
    """Poll briefly: some payloads start a child process that finishes after the loader."""
    traces.listener.setblocking(True)
    traces.listener.settimeout(0.2)
    for _ in range(100):
        if live.trace == "file" and traces.ctx.trace.exists():
            return True
        if live.trace == "keep" and not traces.ctx.keep.exists():
            return True
        if live.trace == "port":
            try:
                conn, _ = traces.listener.accept()
            except TimeoutError:
                continue
            conn.close()
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("case", malicious.CASES, ids=malicious.IDS)
def test_payload_is_live(case: Case, traces: Traces) -> None:
    built = case.build(traces.ctx)
    if built.live is None:
        pytest.skip("no stock loader runs this file (archive edge case, damaged or unreachable)")
    proc = _run_payload(built.live, str(built.path), str(traces.ctx.dir))
    assert _trace_appeared(built.live, traces), (
        f"loading {case.id} left no {built.live.trace} trace\n"
        f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
