"""The CLI against a live server, signatures under a namespace policy, and key rotation."""

from __future__ import annotations

import json
import os
import pickle
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from bastion.cli.main import cli
from bastion.client import ClientError
from bastion.crypto import keys as k
from bastion.crypto.kek import LocalKeyFileProvider
from bastion.errors import VerificationError
from bastion.integrity import KeySigner, sign_model
from bastion.registry import tables as t
from bastion.registry.keys import rotate_keys
from tests.server.conftest import Live


def _run(*args: str, env: dict[str, str] | None = None) -> object:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _model(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return folder


def test_cli_login_push_ls_info_pull_release(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    login_file = tmp_path / "cfg" / "login.json"
    monkeypatch.setenv("BASTION_LOGIN_FILE", str(login_file))
    token = live.admin._http.headers["authorization"].split()[1]
    result = _run(
        "login", live.url, "--ca-cert", str(live.paths.cert), env={"BASTION_TOKEN": token}
    )
    assert result.exit_code == 0, result.output
    assert "token:admin" in result.output
    assert stat.S_IMODE(os.stat(login_file).st_mode) == 0o600
    good = _model(tmp_path / "good", {"model.pkl": pickle.dumps({"a": 1})})
    result = _run("push", str(good), "lab/clf:1", "--create-namespace")
    assert result.exit_code == 0, result.output
    assert "committed" in result.output
    assert _run("ls").output.split() == ["lab", "team"]
    assert _run("ls", "lab").output.strip() == "lab/clf"
    assert "lab/clf:1\tcommitted" in _run("ls", "lab/clf").output
    info = json.loads(_run("info", "lab/clf:1", "--json").output)
    assert info["files"][0]["path"] == "model.pkl"
    result = _run("pull", "lab/clf:1", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "model.pkl").read_bytes() == (good / "model.pkl").read_bytes()

    evil = _model(tmp_path / "evil", {"model.pkl": b"cos\nsystem\n(S'id'\ntR."})
    result = _run("push", str(evil), "lab/clf:2")
    assert result.exit_code == 1
    assert "quarantined" in result.output
    assert _run("pull", "lab/clf:2", str(tmp_path / "o2")).exit_code == 1
    assert _run("release", "lab/clf:2", "--reason", "fixture").exit_code == 0
    assert _run("pull", "lab/clf:2", str(tmp_path / "o2")).exit_code == 0
    monkeypatch.setenv("BASTION_LOGIN_FILE", str(tmp_path / "nowhere.json"))
    result = _run("ls")
    assert result.exit_code == 2
    assert "bastion login" in result.output


def test_signature_policy_and_verified_pull(live: Live, tmp_path: Path) -> None:
    key = k.generate("ecdsa-p256")
    (tmp_path / "me.pub").write_bytes(k.public_pem(key))
    other = k.generate("ecdsa-p256")
    (tmp_path / "other.pub").write_bytes(k.public_pem(other))
    model = _model(tmp_path / "m", {"model.pkl": pickle.dumps([1, 2, 3]), "README.md": b"# hi\n"})
    live.admin.set_policy(
        "team",
        {
            "require_signature": True,
            "trusted_keys": [k.public_pem(key).decode()],
            "allow_unscanned": True,
        },
    )
    unsigned = live.admin.push(model, "team/m:unsigned")
    assert unsigned["state"] == "quarantined"
    assert "requires a signature" in unsigned["state_reason"]
    sign_model(model, KeySigner(key))  # writes model/model.sig, which push sends as the signature
    signed = live.admin.push(model, "team/m:signed")
    assert signed["state"] == "committed", signed["state_reason"]
    assert [f["path"] for f in signed["files"]] == ["README.md", "model.pkl"]
    live.admin.pull("team/m:signed", tmp_path / "ok", verify_key=tmp_path / "me.pub")
    with pytest.raises(VerificationError):
        live.admin.pull("team/m:signed", tmp_path / "bad", verify_key=tmp_path / "other.pub")
    assert not (tmp_path / "bad" / "model.pkl").exists()
    (model / "model.pkl").write_bytes(pickle.dumps([1, 2, 4]))  # changed after signing
    changed = live.admin.push(model, "team/m:changed")
    assert changed["state"] == "quarantined"
    assert "does not match" in changed["state_reason"]


def test_rotation_rewraps_without_reencrypting_and_resumes(live: Live, tmp_path: Path) -> None:
    for i in range(3):
        live.admin.push(
            _model(tmp_path / f"m{i}", {"model.pkl": pickle.dumps(i), "x.json": b"{}"}),
            f"team/m:{i}",
        )
    store = live.state.registry.store
    before = {b: store.path(b).read_bytes() for b in store.on_disk()}
    assert len(before) == 6
    provider = LocalKeyFileProvider.open(live.paths.key_file)
    partial = rotate_keys(live.state.engine, provider, live.audit, actor="test", limit=4, batch=2)
    assert (partial.current.version, partial.rewrapped, partial.remaining) == (2, 4, 2)
    live.admin.pull("team/m:0", tmp_path / "mid")  # the running server follows the key file
    done = rotate_keys(live.state.engine, provider, live.audit, actor="test", resume=True)
    assert (done.current.version, done.rewrapped, done.remaining) == (2, 2, 0)
    with live.state.engine.connect() as conn:
        assert {r.key_version for r in conn.execute(t.blobs.select())} == {2}
    assert {b: store.path(b).read_bytes() for b in store.on_disk()} == before
    for i in range(3):
        live.admin.pull(f"team/m:{i}", tmp_path / f"after{i}")
    assert live.audit.actions().count("key.rotate") == 2
    info = live.admin.push(
        _model(tmp_path / "new", {"model.pkl": pickle.dumps("new")}), "team/m:new"
    )
    assert info["state"] == "committed"
    with live.state.engine.connect() as conn:
        assert {r.key_version for r in conn.execute(t.blobs.select())} == {2}


def test_cli_keys_rotate(live: Live, tmp_path: Path) -> None:
    live.admin.push(_model(tmp_path / "m", {"model.pkl": pickle.dumps(1)}), "team/m:1")
    url = str(live.state.engine.url.render_as_string(hide_password=False))
    result = _run("keys", "rotate", "--data-dir", str(live.paths.data_dir), "--database-url", url)
    assert result.exit_code == 0, result.output
    assert "version 2: 1 data key(s) re-wrapped, 0 left" in result.output
    live.admin.pull("team/m:1", tmp_path / "out")
    with pytest.raises(ClientError):
        live.admin.pull("team/nothing:1", tmp_path / "out2")


def test_cli_login_as_a_user_over_tls(
    live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bastion.auth.base import Role
    from bastion.auth.service import Operator

    identity = live.state.identity
    assert identity is not None
    password = "lantern-orchid-quartz-58"  # noqa: S105
    identity.create_user(Operator("test"), "alice", password)
    identity.grant(Operator("test"), "alice", Role.READER, "team")
    login_file = tmp_path / "cfg" / "login.json"
    monkeypatch.setenv("BASTION_LOGIN_FILE", str(login_file))
    wrong = CliRunner().invoke(
        cli, ["login", live.url, "--ca-cert", str(live.paths.cert), "--user", "alice"],
        input="not-the-password-at-all\n",
    )  # fmt: skip
    assert wrong.exit_code != 0
    assert not login_file.exists()
    result = _run_with_input(
        ["login", live.url, "--ca-cert", str(live.paths.cert), "--user", "alice"], password
    )
    assert result.exit_code == 0, result.output
    assert "user:alice" in result.output
    assert json.loads(login_file.read_text())["token"].startswith("bss_")
    assert _run("ls").output.split() == ["team"]  # the session works for every command


def _run_with_input(args: list[str], text: str) -> object:
    return CliRunner().invoke(cli, args, input=text + "\n", catch_exceptions=False)
