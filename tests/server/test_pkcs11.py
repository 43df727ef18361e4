"""The registry with its key-encryption key on a PKCS#11 token (SoftHSM2): push, rotate,
pull. Runs in a child process because SoftHSM2 reads its configuration once per process."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")

SCRIPT = textwrap.dedent(
    """
    import pickle, sys
    from pathlib import Path
    from fastapi.testclient import TestClient
    from bastion.audit import MemoryAuditSink
    from bastion.config import ServerSettings
    from bastion.registry import tables as t
    from bastion.registry.keys import rotate_keys
    from bastion.server import create_app
    from bastion.server.bootstrap import Paths, engine_for, key_provider, open_state, prepare

    data = Path(sys.argv[1])
    settings = ServerSettings(data_dir=data, pkcs11_module=sys.argv[2], pkcs11_token="reg")
    paths, audit = Paths(data), MemoryAuditSink()
    engine = engine_for(paths, None)
    token = prepare(paths, engine, audit, key_file=False).admin_token
    assert not paths.key_file.exists()
    keys = key_provider(paths, settings)
    state = open_state(paths, engine, audit, keys=keys)
    h = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(state), base_url="https://t") as c:
        assert c.post("/v1/namespaces", json={"name": "team"}, headers=h).status_code == 201
        up = c.post("/v1/namespaces/team/uploads", json={"model": "m", "version": "1"}, headers=h)
        up = up.json()["upload"]
        body = pickle.dumps({"w": 1})
        base = f"/v1/namespaces/team/uploads/{up}"
        assert c.put(base + "/files/m.pkl", content=body, headers=h).status_code == 200
        info = c.post(base + "/commit", json={}, headers=h).json()
        assert info["state"] == "committed"
        result = rotate_keys(engine, keys, audit, actor="test")
        assert (result.current.version, result.rewrapped, result.remaining) == (2, 1, 0)
        r = c.get("/v1/namespaces/team/models/m/versions/1/files/m.pkl", headers=h)
        assert r.status_code == 200 and r.content == body
    with engine.connect() as conn:
        assert [r.key_id for r in conn.execute(t.blobs.select())] == ["bastion-kek"]
    print("ok")
    """
)


@pytest.mark.slow
def test_registry_on_a_pkcs11_token(tmp_path: Path) -> None:
    if shutil.which("softhsm2-util") is None or not MODULE.exists():
        if os.environ.get("CI"):
            pytest.fail("SoftHSM2 is not installed; CI must run the PKCS#11 tests")
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    if importlib.util.find_spec("pkcs11") is None:
        pytest.skip("python-pkcs11 is not installed")
    tokens = tmp_path / "tokens"
    tokens.mkdir()
    conf = tmp_path / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    env = {
        **os.environ,
        "SOFTHSM2_CONF": str(conf),
        "BASTION_PKCS11_PIN": "1234",
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    init = [
        "softhsm2-util",
        "--init-token",
        "--free",
        "--label",
        "reg",
        "--pin",
        "1234",
        "--so-pin",
        "5678",
    ]
    subprocess.run(init, check=True, capture_output=True, env=env)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), str(MODULE)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "ok"
