"""The scanner registry: formats load lazily, each cheap sniff agrees with its scanner's,
and third-party scanners still arrive through the ``bastion.scanners`` entry point.

The laziness is checked as behaviour (which modules a fresh interpreter has loaded), never
as time: ``bastion scan`` of one small file must not pay for every format it supports.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from bastion.scan._registry import BUILTIN, default_scanners

SRC = Path(__file__).resolve().parents[2] / "src"

#: Modules a scan of a plain pickle has no use for.
OTHER_FORMATS = {
    "bastion.scan.zip",
    "bastion.scan.tar",
    "bastion.scan.numpy",
    "bastion.scan.gguf",
    "bastion.scan.safetensors",
    "bastion.scan.hdf5",
    "bastion.scan.savedmodel",
    "bastion.scan.onnx",
    "bastion.scan.compressed",
    "bastion.scan.configs",
    "bastion.scan.python",
    "bastion.scan._keras",
    "bastion.scan._template",
    "bastion.scan._protobuf",
}
#: What the terminal and SBOM reports need, and a plain scan does not.
REPORTING = {"rich", "jinja2", "bastion.scan.report.as_cyclonedx", "bastion.scan.report.as_sarif"}


def loaded_after(code: str, *paths: Path) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    script = textwrap.dedent(code) + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))\n"
    path = os.pathsep.join(map(str, (*paths, SRC)))
    env = {**os.environ, "PYTHONPATH": path}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_and_the_scanner_loads_no_format() -> None:
    mods = loaded_after("import bastion.cli.main, bastion.scan")
    assert "bastion.scan" in mods
    assert not mods & (OTHER_FORMATS | REPORTING | {"bastion.scan.pickle"})


def test_scanning_a_pickle_loads_the_pickle_scanner_only(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
    mods = loaded_after(
        f"""
        from bastion.scan import scan_path
        assert scan_path({str(model)!r}).files[0].formats == ("pickle",)
        """
    )
    assert "bastion.scan.pickle" in mods
    assert not mods & (OTHER_FORMATS | REPORTING)


@pytest.mark.parametrize(("fmt", "renderer"), [("text", None), ("json", "as_json")])
def test_cli_scan_to_a_pipe_loads_one_renderer_and_no_rich(
    tmp_path: Path, fmt: str, renderer: str | None
) -> None:
    model = tmp_path / "model.pkl"
    model.write_bytes(pickle.dumps(list(range(10)), protocol=2))
    mods = loaded_after(
        f"""
        import contextlib, io
        from bastion.cli.main import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            try:
                main(["scan", {str(model)!r}, "--format", {fmt!r}, "--no-progress"])
            except SystemExit as exc:
                assert exc.code == 0, out.getvalue()
        assert "1 clean" in out.getvalue() or '"clean": 1' in out.getvalue(), out.getvalue()
        """
    )
    assert not mods & (OTHER_FORMATS | REPORTING)
    renderers = {m.rsplit(".", 1)[1] for m in mods if m.startswith("bastion.scan.report.")}
    assert renderers == ({"as_text"} if renderer is None else {renderer})


def test_each_format_is_listed_once() -> None:
    names = [spec.name for spec in BUILTIN]
    assert len(names) == len(set(names))
    assert [s.name for s in default_scanners()] == names


def _tar_head() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(tarfile.TarInfo("model.pkl"), io.BytesIO())
    return buf.getvalue()[:1024]


HEADS = [
    b"",
    _tar_head(),
    b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00}\x94.",
    b"(dp0\nS'a'\np1\nI1\ns.",
    b"cos\nsystem\n(S'id'\ntR.",
    b"PK\x03\x04" + bytes(40),
    b"\x93NUMPY\x01\x00v\x00{'descr': '<f4'}",
    b"GGUF\x03\x00\x00\x00" + bytes(16),
    (20).to_bytes(8, "little") + b'{"a":{"dtype":"F32"}}',
    b"\x89HDF\r\n\x1a\n" + bytes(8),
    bytes(512) + b"\x89HDF\r\n\x1a\n",
    b"\x08\x01\x12\x02\x0a\x00",
    b"\x08\x07\x12\x04test\x1a\x01x",
    b"\x1f\x8b\x08\x00" + bytes(6),
    b"ZF0x10      \x78\x9c",
    b"x\x9c" + bytes(4),
    b'\x0a\x20\x08\x01"class_name": "Dense"',
    b'{"model_type": "bert"}',
    b"{{ bos_token }}{% for m in messages %}",
    b"import os\nos.system('id')\n",
    b"# comment\nfrom torch import nn\n",
    b"just some text\n",
    bytes(range(256)) * 2,
]


@pytest.mark.parametrize("spec", BUILTIN, ids=lambda s: s.name)
def test_cheap_sniff_is_the_scanners_own(spec: object) -> None:
    """The registry decides with the cheap sniff; the scanner class must agree with it."""
    from bastion.scan._registry import Builtin

    assert isinstance(spec, Builtin)
    cls = getattr(importlib.import_module(f"bastion.scan.{spec.module}"), spec.cls)
    scanner = cls()
    assert scanner.name == spec.name
    assert hasattr(scanner, "sniff_tail") == (spec.sniff_tail is not None)
    assert [scanner.sniff(h) for h in HEADS] == [spec.sniff(h) for h in HEADS]


def test_every_head_above_is_claimed_as_expected() -> None:
    """The heads above reach every format's sniff, so the agreement test means something."""
    claimed = [next((s.name for s in BUILTIN if s.sniff(h)), None) for h in HEADS]
    assert set(claimed) >= {spec.name for spec in BUILTIN}


PLUGIN = """
from typing import ClassVar

from bastion.models import Severity


class MagicScanner:
    name: ClassVar[str] = "magic"

    def sniff(self, head: bytes) -> bool:
        return head.startswith(b"\\x00\\x01MAGIC")

    def scan(self, stream, location, ctx) -> None:
        stream.read()
        ctx.finding("magic.seen", Severity.HIGH, "the plugin saw it", location)
"""


def test_plugins_from_the_entry_point_group_scan_what_they_claim(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "magic_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "magic_plugin.py").write_text(PLUGIN)
    dist = site / "magic_plugin-1.0.dist-info"
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: magic-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[bastion.scanners]\nmagic = magic_plugin:MagicScanner\n"
    )
    model = tmp_path / "model.magic"
    model.write_bytes(b"\x00\x01MAGIC and then some")
    code = f"""
        from bastion.config import ScanSettings
        from bastion.scan import scan_path
        for plugins in (False, True):
            result = scan_path({str(model)!r}, settings=ScanSettings(plugins=plugins)).files[0]
            print(json.dumps([list(result.formats), [f.rule for f in result.findings]]))
        """
    script = "import json\n" + textwrap.dedent(code)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (site, SRC)))}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    without, with_plugin = (json.loads(line) for line in proc.stdout.splitlines())
    assert without == [[], []]  # off by default: not a model format
    assert with_plugin == [["magic"], ["magic.seen"]]
