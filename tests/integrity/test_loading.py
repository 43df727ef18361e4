"""Safe loading: verified, scanned, then loaded; any failed step raises and loads nothing."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.crypto import keys as k
from bastion.errors import VerificationError
from bastion.integrity import KeySigner, KeyVerifier, ModelMismatchError, load, sign_model
from bastion.integrity._scanning import UnsafeModelError
from bastion.integrity.loading import LoadError

KEY = k.generate()
OTHER = k.generate()


def safetensors_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    names = {torch.float32: "F32", torch.int64: "I64", torch.bfloat16: "BF16"}
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {
            "dtype": names[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    # Fixed values: the scanner reads tensor storages too, and random floats can look
    # like the start of a pickle (a scanner false positive, reported separately).
    torch.save({"layer.weight": torch.arange(12.0).reshape(4, 3)}, model / "pytorch_model.bin")
    (model / "extra.safetensors").write_bytes(
        safetensors_bytes(
            {
                "emb": torch.arange(6, dtype=torch.int64).reshape(2, 3),
                "half": torch.ones(3, dtype=torch.bfloat16),
                "none": torch.empty(0, 2),
            }
        )
    )
    (model / "config.json").write_text('{"hidden": 4}\n')
    sign_model(model, KeySigner(KEY))
    return model


def test_folder_loads_every_weight_file(folder: Path) -> None:
    state = load(folder, verifier=KeyVerifier(KEY.public_key()))
    assert set(state) == {"layer.weight", "emb", "half", "none"}
    assert state["emb"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert state["half"].dtype == torch.bfloat16
    assert state["none"].shape == (0, 2)
    assert torch.equal(
        state["layer.weight"], torch.load(folder / "pytorch_model.bin")["layer.weight"]
    )


def test_single_state_dict_file(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    torch.save({"w": torch.tensor([1.0, 2.0])}, path)
    sign_model(path, KeySigner(KEY))
    assert load(path, verifier=KeyVerifier(KEY.public_key()))["w"].tolist() == [1.0, 2.0]


def test_unsigned_needs_explicit_consent(folder: Path) -> None:
    with pytest.raises(VerificationError, match="no verifier"):
        load(folder, verifier=None)
    assert "emb" in load(folder, verifier=None, allow_unsigned=True)


def test_wrong_key_or_changed_config_loads_nothing(folder: Path) -> None:
    with pytest.raises(VerificationError):
        load(folder, verifier=KeyVerifier(OTHER.public_key()))
    (folder / "config.json").write_text('{"hidden": 5}\n')
    with pytest.raises(ModelMismatchError, match=r"changed: config\.json"):
        load(folder, verifier=KeyVerifier(KEY.public_key()))


def test_swapped_weights_are_refused(folder: Path) -> None:
    torch.save({"layer.weight": torch.ones(4, 3)}, folder / "pytorch_model.bin")
    with pytest.raises(ModelMismatchError, match="pytorch_model"):
        load(folder, verifier=KeyVerifier(KEY.public_key()))


class Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return (os.system, ("echo pwned",))


def test_signed_but_malicious_pickle_is_refused_by_the_scanner(tmp_path: Path) -> None:
    # Signed by a trusted key does not mean safe: the scanner still runs first.
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"w": Boom()}))
    sign_model(path, KeySigner(KEY))
    with pytest.raises(UnsafeModelError, match="critical"):
        load(path, verifier=KeyVerifier(KEY.public_key()))


def test_not_a_state_dict_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.pt"
    torch.save([torch.tensor(1.0)], path)
    with pytest.raises(LoadError, match="not a state dict"):
        load(path, verifier=None, allow_unsigned=True)


@pytest.mark.parametrize(
    "entry",
    [
        {"dtype": "F32", "shape": [4], "data_offsets": [0, 64]},
        {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]},
        {"dtype": "XX", "shape": [4], "data_offsets": [0, 16]},
        {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]},
        {"dtype": "F32", "shape": [4]},
    ],
)
def test_bad_safetensors_are_refused(tmp_path: Path, entry: dict[str, object]) -> None:
    head = json.dumps({"t": entry}).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", len(head)) + head + bytes(16))
    # The scanner's strict safetensors checks refuse it first; the loader's parser would too.
    with pytest.raises((LoadError, UnsafeModelError)):
        load(path, verifier=None, allow_unsigned=True)


def test_added_or_removed_weight_file_is_refused(folder: Path) -> None:
    torch.save({"extra": torch.ones(1)}, folder / "smuggled.pt")
    with pytest.raises(ModelMismatchError, match=r"added: smuggled\.pt"):
        load(folder, verifier=KeyVerifier(KEY.public_key()))
    (folder / "smuggled.pt").unlink()
    (folder / "extra.safetensors").unlink()
    with pytest.raises(ModelMismatchError, match=r"removed: extra\.safetensors"):
        load(folder, verifier=KeyVerifier(KEY.public_key()))


def test_sharded_signature_is_checked_from_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.pt"
    torch.save({"w": torch.arange(4096.0).reshape(64, 64)}, path)
    sign_model(path, KeySigner(KEY), method="shards", shard_size=4096)
    assert load(path, verifier=KeyVerifier(KEY.public_key()))["w"].shape == (64, 64)
    data = bytearray(path.read_bytes())
    data[-100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(ModelMismatchError):
        load(path, verifier=KeyVerifier(KEY.public_key()))


@given(
    header=st.dictionaries(
        st.text(max_size=5),
        st.none()
        | st.integers()
        | st.text(max_size=5)
        | st.dictionaries(
            st.sampled_from(["dtype", "shape", "data_offsets"]),
            st.sampled_from(["F32", "I64", "XX"]) | st.lists(st.integers(-3, 40), max_size=3),
        ),
        max_size=4,
    ),
    body=st.binary(max_size=64),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_safetensors_parser_never_crashes(header: dict[str, object], body: bytes) -> None:
    from bastion.integrity.loading import _load_safetensors

    head = json.dumps(header).encode()
    try:
        tensors = _load_safetensors(struct.pack("<Q", len(head)) + head + body, "fuzz")
    except LoadError:
        return
    for value in tensors.values():
        assert isinstance(value, torch.Tensor)
