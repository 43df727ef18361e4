"""A SoftHSM2 token in a temporary directory, for the PKCS#11 provider's tests.

SoftHSM2 reads its configuration once per process (python-pkcs11 loads a module once), so
the token is made once per test process, and each test uses a key id of its own.

Without SoftHSM2 (or python-pkcs11) the tests are skipped on a developer's machine and
fail under CI (the CI variable set), where .ci/run installs SoftHSM2.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SOFTHSM_MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
PINS = ("--pin", "1234", "--so-pin", "5678")


@dataclass(frozen=True)
class Token:
    module: str
    label: str
    pin: str
    conf: Path


def _missing() -> str | None:
    if shutil.which("softhsm2-util") is None or not SOFTHSM_MODULE.exists():
        return "SoftHSM2 is not installed (apt-get install softhsm2)"
    if importlib.util.find_spec("pkcs11") is None:
        return "python-pkcs11 is not installed (pip install -e '.[pkcs11]')"
    return None


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Token]:
    missing = _missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{missing}; CI must run the PKCS#11 tests")
        pytest.skip(missing)
    root = tmp_path_factory.mktemp("softhsm")
    tokens = root / "tokens"
    tokens.mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    label = "bastion-test"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label, *PINS],
            check=True,
            capture_output=True,
        )
        yield Token(str(SOFTHSM_MODULE), label, "1234", conf)


@pytest.fixture
def key_id() -> str:
    """A key id of this test's own on the shared token."""
    return f"kek-{uuid.uuid4().hex[:12]}"
