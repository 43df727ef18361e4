"""What to do about a scan finding, by the rule's family (the part before the first dot)."""

from __future__ import annotations

_ADVICE: dict[str, str] = {
    "pickle": (
        "Do not load this file with pickle, torch.load or joblib: loading runs the imports "
        "named above. Ask the publisher for a safetensors copy, or review the named globals "
        "and release only if every one is expected."
    ),
    "keras": (
        "Keras Lambda layers and custom objects run code when the model loads. Load with "
        "safe_mode=True, or rebuild the model without them."
    ),
    "onnx": (
        "Custom operators and external data run native code or read files outside the model. "
        "Check the operator domains against the runtime you deploy and keep external data "
        "inside the model folder."
    ),
    "archive": (
        "The archive is malformed or tries to write outside its folder. Do not extract it with "
        "tools that follow links or absolute paths; ask for a clean re-export."
    ),
    "safetensors": (
        "The header does not describe the data consistently: the file was damaged or crafted. "
        "Re-download it from the publisher and compare digests."
    ),
    "gguf": "The GGUF header points outside the file: re-download it and compare digests.",
    "template": (
        "The chat template can run code in the renderer. Review it, or replace it with the "
        "model family's published template."
    ),
    "python": (
        "Code shipped with the model runs with trust_remote_code or as TorchScript. Read it "
        "before enabling remote code."
    ),
}
_DEFAULT = (
    "Review the finding with the model's publisher before releasing; when in doubt, keep the "
    "version quarantined."
)


def advice_for(rule: str) -> str:
    return _ADVICE.get(rule.split(".", 1)[0], _DEFAULT)
