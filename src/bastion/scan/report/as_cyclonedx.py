"""An inventory of the scanned files as a CycloneDX 1.6 ML-BOM (JSON), for supply-chain
tools: each file with its SHA-256, the formats Bastion found in it and its verdict.

Written by hand against the 1.6 schema (tests validate it with the schema that
``cyclonedx-python-lib`` bundles); Bastion's own facts are ``bastion:*`` properties.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

from bastion import __version__
from bastion.scan.base import FileResult, ScanReport

SPEC_VERSION = "1.6"
#: Formats that hold a model (weights, graph or code), as opposed to configs and text.
MODEL_FORMATS = frozenset(
    {"pickle", "pytorch", "torchscript", "numpy", "safetensors", "gguf", "onnx", "keras",
     "hdf5", "tf-savedmodel", "keras-metadata"}
)  # fmt: skip


def to_cyclonedx(
    report: ScanReport, roots: list[str] | None = None, *, name: str | None = None
) -> str:
    """The BOM as JSON text. File names are made relative to ``roots`` (the scanned folders)."""
    return json.dumps(to_bom(report, roots, name=name), indent=2, ensure_ascii=False)


def to_bom(
    report: ScanReport, roots: list[str] | None = None, *, name: str | None = None
) -> dict[str, Any]:
    roots = roots or []
    components = [_component(result, roots) for result in report.files]
    seen: set[str] = set()
    for index, component in enumerate(components):
        if component["bom-ref"] in seen:  # the same relative name under two roots
            component["bom-ref"] += f"#{index}"
        seen.add(component["bom-ref"])
    model_name = name or (os.path.basename(os.path.normpath(roots[0])) if roots else "model")
    worst = report.max_severity
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": uuid.uuid4().urn,
        "version": 1,
        "metadata": {
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {
                "components": [{"type": "application", "name": "bastion", "version": __version__}]
            },
            "component": {
                "type": "machine-learning-model",
                "bom-ref": "model",
                "name": model_name,
                "properties": [
                    {"name": "bastion:files", "value": str(len(report.files))},
                    {"name": "bastion:exit-code", "value": str(report.exit_code())},
                    {"name": "bastion:max-severity", "value": worst.label if worst else "none"},
                ],
            },
        },
        "components": components,
        "dependencies": [
            {"ref": "model", "dependsOn": [c["bom-ref"] for c in components]},
        ],
    }


def _component(result: FileResult, roots: list[str]) -> dict[str, Any]:
    name = _relative(result.path, roots)
    properties = [
        {"name": "bastion:format", "value": "+".join(result.formats) or "unknown"},
        {"name": "bastion:verdict", "value": result.status.value},
        {"name": "bastion:size", "value": str(result.size)},
        {"name": "bastion:findings", "value": str(len(result.findings))},
    ]
    if result.max_severity is not None:
        properties.append({"name": "bastion:max-severity", "value": result.max_severity.label})
    for rule in sorted({f.rule for f in result.findings}):
        properties.append({"name": "bastion:rule", "value": rule})
    if result.skipped:
        properties.append({"name": "bastion:skipped", "value": result.skipped})
    for error in result.errors[:5]:
        properties.append({"name": "bastion:error", "value": error.message})
    component: dict[str, Any] = {
        "type": "machine-learning-model" if MODEL_FORMATS & set(result.formats) else "file",
        "bom-ref": f"file:{name}",
        "name": name,
        "properties": properties,
    }
    digest = _sha256(result.path)
    if digest is not None:
        component["hashes"] = [{"alg": "SHA-256", "content": digest}]
    return component


def _relative(path: str, roots: list[str]) -> str:
    for root in roots:
        if os.path.isdir(root):
            rel = os.path.relpath(path, root)
            if not rel.startswith(".."):
                return rel.replace(os.sep, "/")
    return path.replace(os.sep, "/")


def _sha256(path: str) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None  # the report already says the file could not be read
    return digest.hexdigest()
