from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.data.corpus import Corpus

WriteRows = Callable[[Iterable[Mapping[str, Any]], str], Path]


@pytest.fixture(scope="session")
def clean_rows() -> list[dict[str, str]]:
    """3,000 clean rows, the same in every test."""
    return Corpus(0).rows(3000)


@pytest.fixture
def write_jsonl(tmp_path: Path) -> WriteRows:
    def write(rows: Iterable[Mapping[str, Any]], name: str = "train.jsonl") -> Path:
        path = tmp_path / name
        with open(path, "w", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row) + "\n")
        return path

    return write
