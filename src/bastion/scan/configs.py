"""JSON configs and Jinja template files that ship with a model.

What they decide at load time: ``auto_map`` / ``custom_pipelines`` name Python files that
``trust_remote_code=True`` imports and runs; ``chat_template`` is rendered on every
request; a Keras config says which classes to import and whether a Lambda's bytecode
runs. Everything else in a JSON file is data.
"""

from __future__ import annotations

import io
import json
import re
from typing import ClassVar

from bastion.errors import ScanError
from bastion.models import Location, Severity
from bastion.scan._context import ScanContext
from bastion.scan._embedded import search_embedded
from bastion.scan._keras import check_config, looks_like_keras
from bastion.scan._pickle_vm import Reader
from bastion.scan._seekable import read_bounded
from bastion.scan._sniff import json_head, template_head
from bastion.scan._template import MAX_TEMPLATE, check_template
from bastion.scan.base import ByteStream

MAX_JSON = 128 << 20


class JsonScanner:
    """JSON objects (and JSON Lines): configs, tokenizers, Keras model configs."""

    name: ClassVar[str] = "json"

    def sniff(self, head: bytes) -> bool:
        return json_head(head)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        data = read_bounded(stream, MAX_JSON, "JSON file")
        for doc in _documents(data):
            check_document(doc, location, ctx)
        search_embedded(Reader(io.BytesIO(data)), location, ctx)


class TemplateScanner:
    """Standalone Jinja chat templates (``chat_template.jinja``)."""

    name: ClassVar[str] = "jinja"

    def sniff(self, head: bytes) -> bool:
        return template_head(head)

    def scan(self, stream: ByteStream, location: Location, ctx: ScanContext) -> None:
        data = read_bounded(stream, MAX_TEMPLATE, "template file")
        check_template(data.decode("utf-8", "replace"), "chat template", location, ctx)


def _documents(data: bytes) -> list[object]:
    text = data.decode("utf-8-sig", "replace")
    try:
        return [json.loads(text)]
    except json.JSONDecodeError as exc:
        first_error = exc
    try:  # JSON Lines
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError:
        raise ScanError(
            f"content starts as JSON but does not parse: {first_error}",
            hint="A config that does not parse may be read differently by other tools.",
        ) from first_error


def check_document(doc: object, location: Location, ctx: ScanContext) -> None:
    if not isinstance(doc, dict):
        return
    check_config(doc, location, ctx, known=looks_like_keras(doc))
    _remote_code(doc, location, ctx)
    _weight_map(doc, location, ctx)
    template = doc.get("chat_template")
    if isinstance(template, str):
        check_template(template, "chat_template", location, ctx)
    elif isinstance(template, list):
        for entry in template:
            if isinstance(entry, dict) and isinstance(entry.get("template"), str):
                check_template(
                    entry["template"], f"chat_template.{entry.get('name')}", location, ctx
                )


def _remote_code(doc: dict[str, object], location: Location, ctx: ScanContext) -> None:
    refs = sorted(set(_code_refs(doc)))
    if refs:
        files = sorted({_file_of(ref) for ref in refs})
        foreign = sorted({ref.split("--", 1)[0] for ref in refs if "--" in ref})
        where = f" from other repositories ({', '.join(foreign)})" if foreign else ""
        ctx.finding(
            "hf.remote-code",
            Severity.HIGH if foreign else Severity.MEDIUM,
            f"loading with trust_remote_code=True imports and runs {', '.join(files)}{where}",
            location,
            code=refs[:50],
            files=files[:50],
            repositories=foreign,
        )
    if doc.get("trust_remote_code") is True:
        ctx.finding(
            "hf.trust-remote-code",
            Severity.MEDIUM,
            "the config asks loaders to trust (run) the repository's code",
            location,
        )


def _weight_map(doc: dict[str, object], location: Location, ctx: ScanContext) -> None:
    """Sharded checkpoints' index: every shard name is joined to the model's folder."""
    weight_map = doc.get("weight_map")
    if not isinstance(weight_map, dict):
        return
    shards = {v for v in weight_map.values() if isinstance(v, str)}
    escaping = sorted(s for s in shards if _escapes(s))
    if escaping:
        ctx.finding(
            "hf.path-traversal",
            Severity.HIGH,
            f"the weight map loads shards from outside the model's folder: {escaping[0]!r}",
            location,
            shards=escaping[:20],
        )


def _escapes(name: str) -> bool:
    parts = re.split(r"[\\/]", name)
    return name.startswith(("/", "\\")) or bool(re.match(r"^[A-Za-z]:", name)) or ".." in parts


def _code_refs(doc: dict[str, object]) -> list[str]:
    refs: list[str] = []
    auto_map = doc.get("auto_map")
    if isinstance(auto_map, dict):
        for value in auto_map.values():
            values = value if isinstance(value, list | tuple) else [value]
            refs.extend(v for v in values if isinstance(v, str) and v)
    pipelines = doc.get("custom_pipelines")
    if isinstance(pipelines, dict):
        for spec in pipelines.values():
            if isinstance(spec, dict):
                for key in ("impl", "pt", "tf"):
                    given = spec.get(key)
                    items = given if isinstance(given, list | tuple) else [given]
                    refs.extend(v for v in items if isinstance(v, str) and v)
    return refs


def _file_of(ref: str) -> str:
    """``"org/repo--modeling_x.MyModel"`` -> ``"org/repo:modeling_x.py"``."""
    repo, _, dotted = ref.rpartition("--")
    module = dotted.rsplit(".", 1)[0] if "." in dotted else dotted
    path = module.replace(".", "/") + ".py"
    return f"{repo}:{path}" if repo else path
