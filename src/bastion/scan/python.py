"""Python source in a model: remote code (``trust_remote_code``), TorchScript ``code/``.

The source is parsed with :mod:`ast` (never imported, compiled or run) and every call is
resolved through the file's imports, so ``import subprocess as sp; sp.run`` reads as
``subprocess.run``. Calls that run programs or code, reach the network, write or delete
files, or deserialize objects are findings.
"""

from __future__ import annotations

import ast
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from bastion.models import Location, Severity
from bastion.scan._context import ScanContext
from bastion.scan._embedded import search_embedded
from bastion.scan._pickle_vm import Reader
from bastion.scan._seekable import read_bounded
from bastion.scan._sniff import python_head
from bastion.scan.base import ByteStream

MAX_SOURCE = 16 << 20
_HIGH, _MEDIUM = Severity.HIGH, Severity.MEDIUM
#: Dotted-name prefixes of dangerous calls: (prefix, what it does, severity).
DANGEROUS: tuple[tuple[str, str, Severity], ...] = (
    *((p, "runs code", _HIGH) for p in (
        "eval", "exec", "compile", "__import__", "builtins.eval", "builtins.exec",
        "importlib.import_module", "importlib.__import__", "runpy.", "code.interact",
        "ctypes.", "types.FunctionType", "types.CodeType", "torch.hub.load",
    )),
    *((p, "runs programs", _HIGH) for p in (
        "os.system", "os.popen", "os.exec*", "os.spawn*", "os.fork", "os.posix_spawn*",
        "subprocess.", "pty.spawn", "commands.", "platform.popen",
    )),
    *((p, "reaches the network", _HIGH) for p in (
        "socket.", "urllib.request.", "urllib.urlopen", "urllib2.", "http.client.", "requests.",
        "httpx.", "aiohttp.", "ftplib.", "smtplib.", "telnetlib.", "paramiko.", "xmlrpc.",
        "huggingface_hub.hf_hub_download", "huggingface_hub.snapshot_download",
    )),
    *((p, "writes or deletes files", _MEDIUM) for p in (
        "os.remove", "os.unlink", "os.rmdir", "os.removedirs", "os.rename", "os.replace",
        "os.chmod", "os.chown", "os.symlink", "os.link", "os.truncate", "shutil.",
        "*.write_text", "*.write_bytes", "*.unlink", "*.rmdir", "*.chmod", "*.symlink_to",
    )),
    *((p, "deserializes objects (code)", _MEDIUM) for p in (
        "pickle.load", "pickle.loads", "_pickle.", "cPickle.", "marshal.load", "dill.load",
        "cloudpickle.load", "joblib.load", "shelve.open", "yaml.unsafe_load",
    )),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    line: int
    what: str
    severity: Severity


class PythonScanner:
    name: ClassVar[str] = "python"

    def sniff(self, head: bytes) -> bool:
        return python_head(head)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        data = read_bounded(stream, MAX_SOURCE, "Python source")
        search_embedded(Reader(io.BytesIO(data)), location, ctx)
        try:
            tree = ast.parse(data.decode("utf-8-sig", "replace"))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return  # not Python after all: it cannot run either
        calls = list(dangerous_calls(tree))
        if calls:
            listed = [f"{c.name} ({c.what}, line {c.line})" for c in calls]
            more = f" and {len(listed) - 1} more" if len(listed) > 1 else ""
            if _runs_on_load(location):
                severity = max(c.severity for c in calls)
                message = f"Python code that runs when the model loads calls {listed[0]}{more}"
            else:
                # A loose .py file runs only if a config's auto_map names it (reported as
                # config.remote-code) or someone imports it: an inventory entry, not an alarm.
                severity = Severity.LOW
                message = (
                    f"Python file calls {listed[0]}{more}; it runs if a config's auto_map "
                    "or trust_remote_code loads it"
                )
            ctx.finding("code.dangerous-call", severity, message, location, calls=listed[:50])


def _runs_on_load(location: Location) -> bool:
    """TorchScript's ``code/`` members are executed by ``torch.jit.load``."""
    return any("code" in member.split("/")[:-1] for member in location.members)


#: Names that lead from any object to the interpreter's internals (sandbox escapes).
INTERNALS = frozenset(
    {"__globals__", "__builtins__", "__subclasses__", "__code__", "__mro__", "__bases__",
     "__closure__", "f_globals", "f_back", "gi_frame", "tb_frame"}
)  # fmt: skip


def dangerous_calls(tree: ast.AST) -> Iterator[Call]:
    aliases = _aliases(tree)
    for node in ast.walk(tree):
        internal = _internal_name(node)
        if internal is not None:
            yield Call(internal, getattr(node, "lineno", 0), "reaches interpreter internals", _HIGH)
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases)
        if name is None:
            continue
        hit = _match(name) or _open_for_writing(name, node) or _getattr_on_module(name, node)
        if hit is not None:
            yield Call(name, node.lineno, hit[0], hit[1])


def _internal_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr in INTERNALS:
        return f"*.{node.attr}"
    if isinstance(node, ast.Name) and node.id in INTERNALS:
        return node.id
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in INTERNALS:
        return repr(node.value)
    return None


def _aliases(tree: ast.AST) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                out[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return out


def _dotted(func: ast.expr, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(aliases.get(func.id, func.id))
    elif parts:
        parts.append("*")  # a method called on some expression: obj.write_text(...)
    else:
        return None
    return ".".join(reversed(parts))


def _match(name: str) -> tuple[str, Severity] | None:
    method = "*." + name.rsplit(".", 1)[-1]
    for prefix, what, severity in DANGEROUS:
        if prefix.startswith("*."):
            if method == prefix and "." in name:
                return what, severity
        elif name == prefix or (
            prefix.endswith((".", "*")) and name.startswith(prefix.rstrip("*"))
        ):
            return what, severity  # "subprocess." covers the module, "os.exec*" os.execv...
    return None


def _open_for_writing(name: str, node: ast.Call) -> tuple[str, Severity] | None:
    if name not in ("open", "io.open", "builtins.open", "os.open", "*.open"):
        return None
    mode = node.args[1] if len(node.args) > 1 else None
    for kw in node.keywords:
        if kw.arg in ("mode", "flags"):
            mode = kw.value
    if isinstance(mode, ast.Constant) and isinstance(mode.value, str):
        return ("writes files", _MEDIUM) if set(mode.value) & set("wax+") else None
    return ("writes files", _MEDIUM) if name == "os.open" else None


def _getattr_on_module(name: str, node: ast.Call) -> tuple[str, Severity] | None:
    if name not in ("getattr", "builtins.getattr") or len(node.args) < 2:
        return None
    attr = node.args[1]
    name_given = attr.value if isinstance(attr, ast.Constant) else None
    risky = isinstance(name_given, str) and (
        name_given.startswith("__")
        or name_given in INTERNALS | {"mro", "eval", "exec"}
        or _match(f"os.{name_given}") is not None
    )
    if risky:
        return "reaches a dangerous attribute by name", _HIGH
    return None
