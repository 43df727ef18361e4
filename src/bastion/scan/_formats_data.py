"""The lists in ``data/formats.toml``, read once."""

from __future__ import annotations

import fnmatch
import tomllib
from functools import cache
from pathlib import Path
from typing import Any


@cache
def _data() -> dict[str, Any]:
    path = Path(__file__).with_name("data") / "formats.toml"
    with path.open("rb") as fh:
        return tomllib.load(fh)


@cache
def onnx_standard_domains() -> frozenset[str]:
    return frozenset(_data()["onnx"]["standard_domains"])


@cache
def tensorflow_ops() -> dict[str, str]:
    """Op name -> the group it belongs to ("python", "file-read", ...)."""
    return {op: group for group, ops in _data()["tensorflow"]["ops"].items() for op in ops}


def is_keras_module(module: str) -> bool:
    return any(fnmatch.fnmatchcase(module, pattern) for pattern in _data()["keras"]["own_modules"])
