"""The benign corpus: real files made by the real libraries, each of which must scan CLEAN.

A finding on any of these is a false positive (typically a missing allowlist entry),
never a reason to drop the case.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class BenignCase:
    id: str
    build: Callable[[Path], Path]
    #: the file holds at least one pickle, so the report's formats must say "pickle"
    has_pickle: bool = True


CASES: list[BenignCase] = []


def case(
    case_id: str, *, has_pickle: bool = True
) -> Callable[[Callable[[Path], Path]], Callable[[Path], Path]]:
    def register(build: Callable[[Path], Path]) -> Callable[[Path], Path]:
        CASES.append(BenignCase(case_id, build, has_pickle))
        return build

    return register


def _seeded() -> Any:
    import torch

    torch.manual_seed(0)
    return torch


# -- PyTorch -----------------------------------------------------------------------------


def _torch_dtype_case(name: str) -> None:
    @case(f"torch-tensor-{name}")
    def build(d: Path) -> Path:
        torch = _seeded()
        dtype = getattr(torch, name)
        t = torch.arange(12).reshape(3, 4).to(dtype)
        path = d / f"tensor_{name}.pt"
        torch.save({"t": t, "row": t[1], "scalar": t[0, 0].clone()}, path)
        return path


for _dtype in (
    "float32",
    "float64",
    "float16",
    "bfloat16",
    "int8",
    "uint8",
    "int64",
    "bool",
    "complex64",
):
    _torch_dtype_case(_dtype)


@case("torch-sequential-state-dict")
def torch_sequential(d: Path) -> Path:
    torch = _seeded()
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    torch.save(model.state_dict(), d / "mlp.pt")
    return d / "mlp.pt"


@case("torch-conv-batchnorm-state-dict")
def torch_conv(d: Path) -> Path:
    torch = _seeded()
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten())
    torch.save(model.state_dict(), d / "conv.pth")
    return d / "conv.pth"


@case("torch-lstm-embedding-state-dict")
def torch_lstm(d: Path) -> Path:
    torch = _seeded()
    nn = torch.nn
    model = nn.ModuleDict({"emb": nn.Embedding(10, 4), "lstm": nn.LSTM(4, 6, num_layers=2)})
    torch.save(model.state_dict(), d / "lstm.bin")
    return d / "lstm.bin"


def _trained() -> tuple[Any, Any]:
    torch = _seeded()
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    loss = model(torch.ones(2, 3)).sum()
    loss.backward()
    opt.step()
    return model, opt


@case("torch-optimizer-state-dict")
def torch_optimizer(d: Path) -> Path:
    _, opt = _trained()
    _seeded().save(opt.state_dict(), d / "optim.pt")
    return d / "optim.pt"


@case("torch-training-checkpoint")
def torch_checkpoint(d: Path) -> Path:
    torch = _seeded()
    model, opt = _trained()
    ckpt = {
        "epoch": 7,
        "loss": 0.125,
        "model": collections.OrderedDict(model.state_dict()),
        "optimizer": opt.state_dict(),
        "rng": torch.get_rng_state(),
        "names": ["weight", "bias"],
    }
    torch.save(ckpt, d / "checkpoint.ckpt")
    return d / "checkpoint.ckpt"


@case("torch-shared-storage-views")
def torch_views(d: Path) -> Path:
    torch = _seeded()
    base = torch.randn(4, 4)
    torch.save({"base": base, "view": base[1:, 2:], "t": base.t()}, d / "views.pt")
    return d / "views.pt"


@case("torch-whole-module")
def torch_whole_module(d: Path) -> Path:
    torch = _seeded()
    nn = torch.nn
    torch.save(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.1)), d / "whole.pt")
    return d / "whole.pt"


@case("torch-parameter-sparse-metadata")
def torch_misc(d: Path) -> Path:
    torch = _seeded()
    obj = {
        "p": torch.nn.Parameter(torch.ones(2, 2)),
        "sparse": torch.eye(3).to_sparse(),
        "dtype": torch.bfloat16,
        "shape": torch.Size([2, 3]),
        "device": torch.device("cpu"),
    }
    torch.save(obj, d / "misc.pt")
    return d / "misc.pt"


@case("torch-tensors-plain-pickle")
def torch_plain_pickle(d: Path) -> Path:
    """pickle.dumps of tensors (not torch.save): storages go through _load_from_bytes."""
    torch = _seeded()
    data = {"w": torch.ones(3), "b": torch.arange(4, dtype=torch.int16)}
    (d / "tensors.pkl").write_bytes(pickle.dumps(data, protocol=2))
    return d / "tensors.pkl"


@case("torch-legacy-format")
def torch_legacy(d: Path) -> Path:
    torch = _seeded()
    state = torch.nn.Linear(3, 2).state_dict()
    torch.save(state, d / "legacy.pt", _use_new_zipfile_serialization=False)
    return d / "legacy.pt"


# -- NumPy -------------------------------------------------------------------------------


@case("npy-numeric-dtypes", has_pickle=False)
def npy_numeric(d: Path) -> Path:
    import numpy as np

    np.save(d / "f32.npy", np.linspace(0, 1, 10, dtype=np.float32))
    return d / "f32.npy"


@case("npy-int-fortran-order", has_pickle=False)
def npy_fortran(d: Path) -> Path:
    import numpy as np

    np.save(d / "fortran.npy", np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4)))
    return d / "fortran.npy"


@case("npy-structured-dtype", has_pickle=False)
def npy_structured(d: Path) -> Path:
    import numpy as np

    dtype = np.dtype([("id", "<i4"), ("score", "<f8"), ("tag", "S4"), ("xy", "<f4", (2,))])
    np.save(d / "records.npy", np.zeros(3, dtype=dtype))
    return d / "records.npy"


@case("npy-complex-bool-0d", has_pickle=False)
def npy_misc(d: Path) -> Path:
    import numpy as np

    np.savez(d / "misc.npz", c=np.array([1 + 2j]), b=np.array([True, False]), s=np.float64(3.5))
    return d / "misc.npz"


@case("npy-object-strings")
def npy_object_strings(d: Path) -> Path:
    import numpy as np

    np.save(d / "labels.npy", np.array(["cat", "dog", None], dtype=object), allow_pickle=True)
    return d / "labels.npy"


@case("numpy-generator-pickle")
def numpy_generator(d: Path) -> Path:
    import numpy as np

    data = {"rng": np.random.default_rng(0), "legacy": np.random.RandomState(1)}
    (d / "rng.pkl").write_bytes(pickle.dumps(data, protocol=4))
    return d / "rng.pkl"


@case("npz-savez", has_pickle=False)
def npz_savez(d: Path) -> Path:
    import numpy as np

    np.savez(d / "arrays.npz", a=np.arange(5), b=np.eye(3))
    return d / "arrays.npz"


@case("npz-savez-compressed", has_pickle=False)
def npz_compressed(d: Path) -> Path:
    import numpy as np

    np.savez_compressed(d / "compressed.npz", a=np.arange(100), b=np.ones((4, 4), dtype=np.float16))
    return d / "compressed.npz"


def _numpy_pickle(protocol: int) -> None:
    @case(f"numpy-array-pickle-p{protocol}")
    def build(d: Path) -> Path:
        import numpy as np

        data = {
            "a": np.arange(6, dtype=np.float32).reshape(2, 3),
            "s": np.int64(3),
            "d": np.dtype("<f8"),
        }
        path = d / f"numpy_p{protocol}.pkl"
        path.write_bytes(pickle.dumps(data, protocol=protocol))
        return path


for _protocol in (2, 5):
    _numpy_pickle(_protocol)


@case("numpy-pickle-p5-out-of-band")
def numpy_out_of_band(d: Path) -> Path:
    """Protocol 5 with out-of-band buffers: NEXT_BUFFER opcodes, data kept elsewhere."""
    import numpy as np

    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps({"a": np.arange(10.0)}, protocol=5, buffer_callback=buffers.append)
    (d / "oob.pkl").write_bytes(data)
    return d / "oob.pkl"


# -- plain pickles -------------------------------------------------------------------------

_PLAIN: dict[str, Any] = {
    "int": 1,
    "big": 2**100,
    "neg": -(2**40),
    "float": 1.5,
    "str": "héllo",
    "bytes": b"\x00\x01",
    "none": None,
    "bools": [True, False],
    "tuple": (1, (2, 3)),
    "nested": {"a": [{"b": ()}]},
}


def _plain_case(protocol: int) -> None:
    @case(f"plain-pickle-p{protocol}")
    def build(d: Path) -> Path:
        path = d / f"plain_p{protocol}.pkl"
        shared = [1, 2]
        path.write_bytes(pickle.dumps({**_PLAIN, "shared": (shared, shared)}, protocol=protocol))
        return path


for _protocol in range(6):
    _plain_case(_protocol)


def _stdlib_case(name: str, value: Callable[[], Any], protocols: tuple[int, ...] = (2, 5)) -> None:
    for protocol in protocols:

        @case(f"stdlib-{name}-p{protocol}")
        def build(d: Path, protocol: int = protocol) -> Path:
            path = d / f"{name}_p{protocol}.pkl"
            path.write_bytes(pickle.dumps(value(), protocol=protocol))
            return path


_stdlib_case("ordereddict", lambda: collections.OrderedDict([("b", 1), ("a", 2)]))
_stdlib_case("defaultdict-list", lambda: collections.defaultdict(list, {"k": [1]}))
_stdlib_case("counter-deque", lambda: [collections.Counter("hello"), collections.deque([1, 2])])
_stdlib_case(
    "datetime",
    lambda: [
        datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
        datetime.date(2020, 2, 29),
        datetime.time(12, 30),
        datetime.timedelta(days=1, seconds=2),
    ],
)
_stdlib_case("decimal", lambda: decimal.Decimal("3.14159"))
_stdlib_case("complex", lambda: complex(1.0, -2.0))
_stdlib_case("set-frozenset", lambda: [{1, 2, 3}, frozenset({"a", "b"})])
_stdlib_case("bytearray", lambda: bytearray(b"abc"))


# -- scikit-learn through joblib -------------------------------------------------------------


def _xy() -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4))
    return x, (x[:, 0] + x[:, 1] > 0).astype(int)


def _logistic() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(*_xy())


def _forest() -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(*_xy())


def _pipeline() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]).fit(*_xy())


def _tfidf() -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer().fit(["the cat sat", "the dog ran", "a cat ran"])


def _kmeans() -> Any:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=2, n_init=1, random_state=0).fit(_xy()[0])


def _sklearn_case(name: str, make: Callable[[], Any]) -> None:
    for compress in (0, 3):

        @case(f"joblib-sklearn-{name}-c{compress}")
        def build(d: Path, compress: int = compress) -> Path:
            import joblib

            path = d / f"{name}_c{compress}.joblib"
            joblib.dump(make(), path, compress=compress)
            return path


def _hist_gradient_boosting() -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(*_xy())


def _one_hot_svc() -> Any:
    import numpy as np
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.svm import SVC

    x = np.array([["red", 1.0], ["blue", 2.0], ["red", 0.5], ["green", 3.0]], dtype=object)
    encode = ColumnTransformer([("colour", OneHotEncoder(handle_unknown="ignore"), [0])])
    return make_pipeline(encode, SVC()).fit(x, [0, 1, 0, 1])


for _name, _make in (
    ("logistic-regression", _logistic),
    ("hist-gradient-boosting", _hist_gradient_boosting),
    ("onehot-svc-pipeline", _one_hot_svc),
    ("random-forest", _forest),
    ("pipeline-scaler", _pipeline),
    ("tfidf", _tfidf),
    ("kmeans", _kmeans),
):
    _sklearn_case(_name, _make)


@case("joblib-numpy-dict-gzip")
def joblib_gzip(d: Path) -> Path:
    import joblib
    import numpy as np

    joblib.dump(
        {"coef": np.arange(10.0), "labels": ["a", "b"]},
        d / "arrays.joblib.gz",
        compress=("gzip", 3),
    )
    return d / "arrays.joblib.gz"


@case("joblib-sklearn-string-labels")
def joblib_string_labels(d: Path) -> Path:
    import joblib
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    x, y = _xy()
    model = LogisticRegression().fit(x, np.where(y == 1, "spam", "ham").astype(object))
    joblib.dump(model, d / "labels.joblib")
    return d / "labels.joblib"


@case("joblib-scipy-sparse")
def joblib_sparse(d: Path) -> Path:
    import joblib
    import numpy as np
    from scipy import sparse

    joblib.dump({"m": sparse.csr_matrix(np.eye(4))}, d / "sparse.joblib", compress=3)
    return d / "sparse.joblib"


IDS: list[str] = [c.id for c in CASES]
