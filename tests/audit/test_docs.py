"""docs/audit.md's stand-alone verifier checks a real proof, and rejects a forged one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from bastion.audit.checkpoint import NoteSigner
from bastion.audit.log import AuditLog
from bastion.audit.proofs import prove_inclusion

from .conftest import make_events

DOC = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


def _snippet() -> Any:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(r"offline-verifier:start -->\n```python\n(.*?)```", text, re.S)
    assert match is not None
    namespace: dict[str, Any] = {}
    exec(compile(match[1], str(DOC), "exec"), namespace)  # noqa: S102 - our own docs
    return namespace["check_inclusion"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_documented_verifier_works(engine: Engine, signer: NoteSigner) -> None:
    check_inclusion = _snippet()
    with AuditLog(engine, signer=signer) as log:
        log.append(make_events(37))
    for index in (0, 20, 36):
        doc = prove_inclusion(engine, index).to_json()
        assert check_inclusion(json.dumps(doc), signer.vkey())["actor"].startswith("user:")
    doc["proof"][0] = doc["proof"][1]
    with pytest.raises(AssertionError):
        check_inclusion(json.dumps(doc), signer.vkey())
