"""Keras model configs (``.keras`` config.json, legacy ``.h5`` model_config, SavedModel
metadata): what loading the config would import or run.

Keras rebuilds a model by looking up every ``class_name`` (importing ``module`` when one
is given) and, for ``Lambda`` layers, by unmarshalling Python bytecode stored in the
config. Each of those is reported; the config is JSON and is only walked, never loaded.
"""

from __future__ import annotations

import base64
import binascii
import re

from bastion.models import Location, Severity
from bastion.scan._context import ScanContext
from bastion.scan._formats_data import is_keras_module

MAX_DEPTH = 200
MAX_NODES = 1_000_000
#: Names in bytecode that say what a Lambda would do (shown as details).
_TELLING = frozenset(
    {"os", "system", "popen", "subprocess", "eval", "exec", "__import__", "open", "socket",
     "urllib", "requests", "builtins", "getattr", "compile", "shutil", "pickle", "marshal"}
)  # fmt: skip
_IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_]{1,40}")


def looks_like_keras(doc: object) -> bool:
    """A JSON document shaped like a serialized Keras model or layer (Keras needs nothing
    more than these two keys to rebuild one, so nothing more is required here)."""
    return isinstance(doc, dict) and isinstance(doc.get("class_name"), str) and "config" in doc


def check_config(doc: object, location: Location, ctx: ScanContext, *, known: bool = True) -> None:
    """Walk a Keras config and report Lambda layers, foreign modules and custom objects.

    With ``known=False`` (any JSON document) the walk still looks for Keras-shaped objects
    at every depth, so a config wrapped in something else is not missed; the format is
    noted, and size limits reported, only when there is a Keras object.
    """
    stack: list[tuple[object, str, int]] = [(doc, "", 0)]
    nodes = shaped = 0
    while stack:
        node, path, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH or nodes > MAX_NODES:
            if known or shaped:
                ctx.finding(
                    "keras.config-too-large",
                    Severity.MEDIUM,
                    "the Keras config nests too deeply or holds too much to check in full",
                    location,
                )
            break
        if isinstance(node, dict):
            shaped += _check_object(node, path, location, ctx)
            stack.extend((v, f"{path}/{k}", depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{path}/{i}", depth + 1) for i, v in enumerate(node))
    if known or shaped:
        ctx.note_format("keras")


def _check_object(node: dict[str, object], path: str, location: Location, ctx: ScanContext) -> bool:
    """Check one object if it is a serialized Keras object; say whether it was."""
    class_name = node.get("class_name")
    if not isinstance(class_name, str):
        return False
    if class_name == "Lambda":
        _lambda_layer(node, path, location, ctx)
    elif class_name == "__lambda__":
        config = node.get("config")
        code = config.get("code") if isinstance(config, dict) else None
        _bytecode(code, path, location, ctx)
    module = node.get("module")
    if isinstance(module, str) and module and not is_keras_module(module):
        _foreign_module(module, node, path, location, ctx)
    registered = node.get("registered_name")
    if (
        isinstance(registered, str)
        and ">" in registered
        and not registered.startswith("keras")
        and not isinstance(module, str)
    ):
        ctx.finding(
            "keras.custom-object",
            Severity.MEDIUM,
            f"custom object {registered!r}: loading needs code registered outside Keras",
            location,
            path=path,
            registered_name=registered,
        )
    return True


def _lambda_layer(node: dict[str, object], path: str, location: Location, ctx: ScanContext) -> None:
    config = node.get("config")
    function = config.get("function") if isinstance(config, dict) else None
    if isinstance(function, dict) and function.get("class_name") == "__lambda__":
        return  # reported when the walk reaches the __lambda__ object itself
    if isinstance(function, list | tuple) and function and isinstance(function[0], str):
        _bytecode(function[0], path, location, ctx)  # legacy: [code, defaults, closure]
        return
    lambda_type = isinstance(config, dict) and config.get("function_type") == "lambda"
    if isinstance(function, str) and lambda_type:
        _bytecode(function, path, location, ctx)
        return
    ctx.finding(
        "keras.lambda-layer",
        Severity.HIGH,
        f"Lambda layer calls {function!r}: a Python function the loader looks up and runs",
        location,
        path=path,
    )


def _bytecode(code: object, path: str, location: Location, ctx: ScanContext) -> None:
    names: list[str] = []
    if isinstance(code, str):
        try:
            raw = base64.b64decode(code[: 8 << 20], validate=False)
        except (binascii.Error, ValueError):
            raw = code.encode("utf-8", "replace")
        names = sorted({m.decode() for m in _IDENT.findall(raw)} & _TELLING)
    ctx.finding(
        "keras.lambda-layer",
        Severity.CRITICAL,
        "Lambda layer holds serialized Python bytecode: loading the model runs it"
        + (f" (it names {', '.join(names)})" if names else ""),
        location,
        path=path,
        names=names,
    )


def _foreign_module(
    module: str, node: dict[str, object], path: str, location: Location, ctx: ScanContext
) -> None:
    class_name = node.get("class_name")
    config = node.get("config")
    # Functions are serialized as class_name "function" with the function's name as config.
    name = config if class_name == "function" and isinstance(config, str) else class_name
    name = name if isinstance(name, str) else ""
    decision = ctx.policy.decide(module, name)
    severity = decision.severity or (Severity.LOW if decision.allowed else Severity.MEDIUM)
    ctx.finding(
        "keras.external-module",
        severity,
        f"loading imports {module}.{name} from outside Keras"
        + (f" ({decision.reason})" if decision.reason else ""),
        location,
        path=path,
        module=module,
        name=name,
    )
