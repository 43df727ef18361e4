"""Keras: ``.keras`` and legacy ``.h5`` files saved by real Keras (torch backend), and
hand-written configs for what Keras itself refuses to write."""

from __future__ import annotations

import json
import os
import sys
import warnings
import zipfile
from pathlib import Path

import h5py
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.models import Severity
from bastion.scan import Status
from tests.scan.formats._util import assert_clean, assert_flagged, rules, scan

os.environ.setdefault("KERAS_BACKEND", "torch")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keras")
    # Keras's torch backend trips NumPy 2 deprecations while saving: theirs, not ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        _save_models(folder)
    return folder


def _save_models(folder: Path) -> None:
    import keras

    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="relu")])
    plain.save(folder / "plain.keras")
    plain.save(folder / "plain.h5")
    evil = keras.layers.Lambda(lambda x: __import__("os").system("id") or x)
    hostile = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2), evil])
    hostile.save(folder / "lambda.keras")
    hostile.save(folder / "lambda.h5")


@pytest.mark.parametrize("name", ["plain.keras", "plain.h5"])
def test_models_saved_by_keras_are_clean(saved: Path, name: str) -> None:
    result = scan(saved / name)
    assert_clean(result)
    assert "keras" in result.formats


@pytest.mark.parametrize("name", ["lambda.keras", "lambda.h5"])
def test_lambda_bytecode_is_critical_and_named(saved: Path, name: str) -> None:
    result = scan(saved / name)
    assert_flagged(result, "keras.lambda-layer", Severity.CRITICAL)
    names = next(f.details["names"] for f in result.findings if f.rule == "keras.lambda-layer")
    assert {"__import__", "system"} <= set(names)


def keras_zip(path: Path, config: dict[str, object]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        zf.writestr("config.json", json.dumps(config))
    return path


def layer(**fields: object) -> dict[str, object]:
    return {"module": "keras.layers", "class_name": "Dense", "config": {}, **fields}


def model(*layers: dict[str, object]) -> dict[str, object]:
    return {"module": "keras", "class_name": "Sequential", "config": {"layers": list(layers)}}


def test_function_from_os_is_critical(tmp_path: Path) -> None:
    activation = {"module": "os", "class_name": "function", "config": "system"}
    result = scan(keras_zip(tmp_path / "m.keras", model(layer(config={"activation": activation}))))
    assert_flagged(result, "keras.external-module", Severity.CRITICAL)


def test_class_from_a_foreign_package(tmp_path: Path) -> None:
    custom = layer(module="my_pkg.layers", class_name="Fancy", registered_name="my_pkg>Fancy")
    result = scan(keras_zip(tmp_path / "m.keras", model(custom)))
    assert_flagged(result, "keras.external-module")


def test_registered_custom_object_without_module(tmp_path: Path) -> None:
    custom = {"class_name": "Fancy", "config": {}, "registered_name": "Custom>Fancy"}
    result = scan(keras_zip(tmp_path / "m.keras", model(custom)))
    assert_flagged(result, "keras.custom-object")


def test_lambda_naming_a_function(tmp_path: Path) -> None:
    func = {"module": "builtins", "class_name": "function", "config": "exec"}
    lam = layer(class_name="Lambda", config={"function": func})
    result = scan(keras_zip(tmp_path / "m.keras", model(lam)))
    assert {"keras.lambda-layer", "keras.external-module"} <= rules(result)


def test_legacy_lambda_list_form_in_h5(tmp_path: Path) -> None:
    config = {
        "class_name": "Sequential",
        "config": {
            "layers": [
                {
                    "class_name": "Lambda",
                    "config": {"function": ["YWJj", None, None], "function_type": "lambda"},
                }
            ]
        },
        "keras_version": "2.15.0",
        "backend": "tensorflow",
    }  # fmt: skip
    with h5py.File(tmp_path / "m.h5", "w") as h5:
        h5.attrs["model_config"] = json.dumps(config)
        h5.create_dataset("w", data=[1.0, 2.0])
    assert_flagged(scan(tmp_path / "m.h5"), "keras.lambda-layer", Severity.CRITICAL)


def test_training_config_with_foreign_loss(tmp_path: Path) -> None:
    training = {"loss": {"module": "subprocess", "class_name": "function", "config": "call"}}
    with h5py.File(tmp_path / "m.h5", "w") as h5:
        h5.attrs["training_config"] = json.dumps(training)
    assert_flagged(scan(tmp_path / "m.h5"), "keras.external-module", Severity.HIGH)


def test_h5_without_h5py_is_an_error_not_clean(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "h5py", None)
    result = scan(saved / "plain.h5")
    assert result.status is Status.ERROR
    assert "bastion-ml[h5]" in result.errors[0].hint


def test_corrupt_h5_is_an_error(tmp_path: Path, saved: Path) -> None:
    data = (saved / "plain.h5").read_bytes()
    (tmp_path / "m.h5").write_bytes(data[:600])
    assert scan(tmp_path / "m.h5").status is Status.ERROR


def test_h5_inside_a_zip_is_read(tmp_path: Path, saved: Path) -> None:
    with zipfile.ZipFile(tmp_path / "bundle.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(saved / "lambda.h5", "nested/model.h5")
    assert_flagged(scan(tmp_path / "bundle.zip"), "keras.lambda-layer", Severity.CRITICAL)


def test_h5_behind_a_user_block(tmp_path: Path, saved: Path) -> None:
    """HDF5 finds its superblock at 512 * 2**k: a prefix must not hide the model."""
    path = tmp_path / "blocked.h5"
    with h5py.File(path, "w", userblock_size=8192) as h5:
        h5.attrs["model_config"] = json.dumps(
            {"class_name": "Lambda", "config": {"function": ["YWJj"], "function_type": "lambda"}}
        )
    with path.open("r+b") as fh:
        fh.write(b"just a harmless looking prefix\n" * 100)
    result = scan(path)
    assert_flagged(result, "keras.lambda-layer", Severity.CRITICAL)
    assert "hdf5" in result.formats


def test_keras_config_without_module_keys_is_checked(tmp_path: Path) -> None:
    lam = {"class_name": "Lambda", "config": {"function": ["YWJj"], "function_type": "lambda"}}
    config = {"class_name": "Sequential", "config": {"layers": [lam]}}
    assert_flagged(scan(keras_zip(tmp_path / "m.keras", config)), "keras.lambda-layer")


def test_a_file_that_hangs_the_hdf5_library_is_an_error() -> None:
    """Found by fuzzing: reading this attribute never returns; the child process is
    stopped at the time limit and the file reported, never clean."""
    from bastion.errors import ScanError
    from bastion.scan.hdf5 import read_attributes

    path = Path(__file__).with_name("data") / "attribute-hang.h5"
    with pytest.raises(ScanError, match="did not finish"):
        read_attributes(str(path), timeout=3)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_mutated_h5_never_crashes_the_scanner(
    tmp_path: Path, saved: Path, data: st.DataObject
) -> None:
    raw = bytearray((saved / "plain.h5").read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        raw[data.draw(st.integers(8, len(raw) - 1))] = data.draw(st.integers(0, 255))
    (tmp_path / "m.h5").write_bytes(bytes(raw))
    result = scan(tmp_path / "m.h5")
    assert result.status in (Status.CLEAN, Status.FINDINGS, Status.ERROR)


def test_keras_objects_are_found_at_any_depth_of_any_json(tmp_path: Path) -> None:
    lam = {"class_name": "Lambda", "config": {"function": ["YWJj"], "function_type": "lambda"}}
    broken_top = {"clasq_name": "Sequential", "config": {"layers": [lam]}}
    assert_flagged(scan(keras_zip(tmp_path / "a.keras", broken_top)), "keras.lambda-layer")
    wrapped = {"run": {"model": {"class_name": "Sequential", "config": {"layers": [lam]}}}}
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(wrapped))
    result = scan(path)
    assert_flagged(result, "keras.lambda-layer")
    assert result.formats == ("json", "keras")


def test_big_json_without_keras_objects_is_not_a_keras_finding(tmp_path: Path) -> None:
    vocab = {f"tok{i}": i for i in range(300_000)}
    path = tmp_path / "tokenizer.json"
    path.write_text(
        json.dumps({"model": {"vocab": vocab, "merges": [[f"a{i}", "b"] for i in range(400_000)]}})
    )
    assert_clean(scan(path))
