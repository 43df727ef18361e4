"""Report renderers: a readable terminal report, JSON (versioned schema), and SARIF 2.1.0.

Each renderer is imported when first used, so writing one format loads none of the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bastion.scan.report.as_cyclonedx import to_cyclonedx
    from bastion.scan.report.as_json import to_dict, to_json
    from bastion.scan.report.as_sarif import to_sarif

_MODULES = {
    "to_cyclonedx": "as_cyclonedx",
    "to_dict": "as_json",
    "to_json": "as_json",
    "to_sarif": "as_sarif",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = ["to_cyclonedx", "to_dict", "to_json", "to_sarif"]
