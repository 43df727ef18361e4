"""Folder scans: nothing a loader could open inside the folder is silently left out."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.scan import Status, scan_path

from ._checks import describe_files
from .corpus import _asm as a


@pytest.fixture
def payload(tmp_path: Path) -> bytes:
    return a.wrap(a.call(a.glob("os", "system"), a.ustr(f"touch {tmp_path / 'TRACE'}")), 2)


@pytest.mark.parametrize(
    "relative",
    [".cache/model.pkl", ".git/objects/blob.pkl", "__pycache__/x.pkl", "a/b/c/d/e/f/deep.pt"],
)
def test_files_in_hidden_and_deep_folders_are_scanned(
    tmp_path: Path, payload: bytes, relative: str
) -> None:
    root = tmp_path / "models"
    (root / relative).parent.mkdir(parents=True)
    (root / relative).write_bytes(payload)
    report = scan_path(root, workers=1)
    [result] = report.files
    assert result.status is Status.FINDINGS, describe_files(report.files)
    assert report.exit_code() == 1
    assert not (tmp_path / "TRACE").exists()


def test_symlinked_file_is_scanned_as_its_target(tmp_path: Path, payload: bytes) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "payload.pkl").write_bytes(payload)
    root = tmp_path / "models"
    root.mkdir()
    (root / "model.pt").symlink_to(tmp_path / "outside" / "payload.pkl")
    for target in (root, root / "model.pt"):
        report = scan_path(target, workers=1)
        assert [r.status for r in report.files] == [Status.FINDINGS], describe_files(report.files)


def test_symlinked_folder_is_followed_or_reported(tmp_path: Path, payload: bytes) -> None:
    """torch.load('models/linked/payload.pkl') works, so the walk must not drop it silently:
    either scan it or list it as skipped (which is never CLEAN)."""
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "payload.pkl").write_bytes(payload)
    root = tmp_path / "models"
    root.mkdir()
    (root / "weights.pkl").write_bytes(a.wrap(a.integer(1), 2))
    (root / "linked").symlink_to(tmp_path / "outside", target_is_directory=True)
    report = scan_path(root, workers=1)
    via_link = {"linked", "outside"}  # the link's own path, or its target's
    mentioned = [r for r in report.files if via_link & set(Path(r.path).parts)]
    assert mentioned, f"the folder symlink vanished from the report\n{describe_files(report.files)}"
    assert all(r.status is not Status.CLEAN for r in mentioned), describe_files(report.files)
