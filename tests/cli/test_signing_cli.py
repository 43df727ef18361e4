"""``bastion keys generate``, ``sign`` and ``verify`` as a user runs them: real processes,
real files, the documented exit codes, and model_signing's CLI on the other side."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integrity.conftest import make_model

BASTION = str(Path(sys.executable).with_name("bastion"))
MODEL_SIGNING = str(Path(sys.executable).with_name("model_signing"))
PASSPHRASE = "not a real secret, only for this test"  # noqa: S105


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if k != "BASTION_KEY_PASSPHRASE"}
    full_env = {**inherited, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [BASTION, *map(str, args)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-keys")
    secret = folder / "passphrase.txt"
    secret.write_text(PASSPHRASE + "\n")
    proc = run("keys", "generate", "--out", folder / "me", "--passphrase-file", secret)
    assert proc.returncode == 0, proc.stderr
    assert PASSPHRASE not in proc.stdout + proc.stderr
    return folder / "me"


def test_generated_key_is_encrypted_and_private(keypair: Path) -> None:
    private = keypair.with_name("me.key")
    assert private.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert private.stat().st_mode & 0o077 == 0
    assert keypair.with_name("me.pub").read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    again = run("keys", "generate", "--out", keypair, "--no-encryption")
    assert again.returncode == 2
    assert "exists" in again.stderr


def test_sign_verify_and_name_each_difference(keypair: Path, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    env = {"BASTION_KEY_PASSPHRASE": PASSPHRASE}
    proc = run("sign", model, "--key", keypair.with_name("me.key"), env=env)
    assert proc.returncode == 0, proc.stderr
    assert (model / "model.sig").is_file()
    pub = keypair.with_name("me.pub")
    assert run("verify", model, "--key", pub).returncode == 0
    (model / "config.json").write_text("{}\n")
    (model / "new.bin").write_bytes(b"added")
    (model / "empty.txt").unlink()
    proc = run("verify", model, "--key", pub)
    assert proc.returncode == 1
    assert "changed: config.json" in proc.stdout
    assert "added: new.bin" in proc.stdout
    assert "removed: empty.txt" in proc.stdout


def test_encrypted_key_without_passphrase_is_a_usage_error(keypair: Path, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    proc = run("sign", model, "--key", keypair.with_name("me.key"))
    assert proc.returncode == 2
    assert "passphrase" in proc.stderr


def test_wrong_passphrase_exits_2(keypair: Path, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    proc = run(
        "sign", model, "--key", keypair.with_name("me.key"),
        env={"BASTION_KEY_PASSPHRASE": "wrong"},
    )  # fmt: skip
    assert proc.returncode == 2
    assert "wrong passphrase" in proc.stderr


def test_bad_input_exits_2_and_wrong_key_exits_1(keypair: Path, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    pub = keypair.with_name("me.pub")
    assert run("verify", model, "--key", pub).returncode == 2  # no model.sig
    (tmp_path / "garbage.sig").write_text("{not json")
    proc = run("verify", model, "--key", pub, "--signature", tmp_path / "garbage.sig")
    assert proc.returncode == 2
    assert "not valid JSON" in proc.stderr
    other = tmp_path / "other"
    assert run("keys", "generate", "--out", other, "--no-encryption").returncode == 0
    assert run("sign", model, "--key", other.with_name("other.key")).returncode == 0
    proc = run("verify", model, "--key", pub)
    assert proc.returncode == 1
    assert "different key" in proc.stderr
    assert run("verify", model).returncode == 2  # neither --key nor --cert-chain


def test_symlink_out_of_the_model_exits_2(keypair: Path, tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    (tmp_path / "secret").write_text("outside")
    (model / "link").symlink_to(tmp_path / "secret")
    other = tmp_path / "k"
    run("keys", "generate", "--out", other, "--no-encryption")
    proc = run("sign", model, "--key", other.with_name("k.key"), "--allow-symlinks")
    assert proc.returncode == 2
    assert "outside the model" in proc.stderr


def test_interop_with_model_signing_cli(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    prefix = tmp_path / "k"
    assert run("keys", "generate", "--out", prefix, "--no-encryption").returncode == 0
    key, pub = prefix.with_name("k.key"), prefix.with_name("k.pub")
    assert run("sign", model, "--key", key).returncode == 0
    proc = subprocess.run(
        [MODEL_SIGNING, "verify", "key", str(model), "--signature", str(model / "model.sig"),
         "--public_key", str(pub)],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    sig = tmp_path / "ms.sig"
    proc = subprocess.run(
        [MODEL_SIGNING, "sign", "key", str(model), "--signature", str(sig),
         "--private_key", str(key)],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert run("verify", model, "--key", pub, "--signature", sig).returncode == 0


def test_blake3_and_shards_round_trip(tmp_path: Path) -> None:
    model = make_model(tmp_path / "model")
    prefix = tmp_path / "k"
    run("keys", "generate", "--type", "ed25519", "--out", prefix, "--no-encryption")
    key, pub = prefix.with_name("k.key"), prefix.with_name("k.pub")
    assert run("sign", model, "--key", key, "--hash", "blake3").returncode == 0
    assert run("verify", model, "--key", pub).returncode == 0
    assert run("sign", model, "--key", key, "--shard-size", "4096").returncode == 0
    assert run("verify", model, "--key", pub).returncode == 0


def test_certificate_mode(tmp_path: Path) -> None:
    from tests.integrity.conftest import make_pki

    pki = make_pki(tmp_path / "pki")
    model = make_model(tmp_path / "model")
    proc = run(
        "sign", model, "--key", pki.leaf_key, "--cert", pki.leaf,
        "--cert-chain", pki.intermediate,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert run("verify", model, "--cert-chain", pki.root).returncode == 0
    proc = run("verify", model, "--cert-chain", pki.other_root)
    assert proc.returncode == 1
    assert "trusted" in proc.stderr
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    assert run("verify", model, "--cert-chain", tmp_path / "junk.pem").returncode == 2
