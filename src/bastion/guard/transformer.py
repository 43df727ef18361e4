"""An optional, user-supplied local transformer classifier behind the same Rule interface.

Point ``path`` at a directory holding a Hugging Face sequence-classification model
and its tokenizer (for example a Prompt Guard-style model you downloaded yourself).
Nothing is downloaded: the model is loaded with ``local_files_only``. The text is
scored in chunks of ``max_length`` tokens (with ``stride`` overlap) and the rule
reports the highest probability of any label in ``labels`` over the chunks.
``transformers`` and ``torch`` are imported on first use only; install them with
``pip install 'bastion-ml[transformer]'``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bastion.errors import PolicyError
from bastion.guard.base import Context, Direction, RuleResult

_LOCK = threading.Lock()
_LOADED: dict[str, tuple[Any, Any]] = {}


def _load(path: str) -> tuple[Any, Any]:
    with _LOCK:
        if path in _LOADED:
            return _LOADED[path]
        try:
            import transformers
        except ImportError:
            raise PolicyError(
                "the transformer rule needs transformers and torch",
                hint="pip install 'bastion-ml[transformer]'",
            ) from None
        try:
            tok = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = transformers.AutoModelForSequenceClassification.from_pretrained(
                path, local_files_only=True
            )
        except (OSError, ValueError) as exc:
            raise PolicyError(f"cannot load a classifier from {path}: {exc}") from exc
        model.eval()
        _LOADED[path] = (tok, model)
        return tok, model


@dataclass(frozen=True, slots=True)
class TransformerClassifier:
    """Score text with a local sequence-classification model."""

    name: ClassVar[str] = "transformer"
    directions: ClassVar[frozenset[Direction]] = frozenset({Direction.INPUT})

    path: str = ""
    labels: tuple[str, ...] = field(default=("INJECTION", "JAILBREAK", "MALICIOUS", "LABEL_1"))
    threshold: float = 0.5
    max_length: int = 512
    stride: int = 64

    def __post_init__(self) -> None:
        if not self.path:
            raise PolicyError("the transformer rule needs a 'path' to a local model directory")

    def check(self, text: str, ctx: Context) -> RuleResult:
        import torch

        tok, model = _load(self.path)
        limit = min(
            self.max_length,
            int(getattr(model.config, "max_position_embeddings", self.max_length)),
            int(min(tok.model_max_length, 1 << 20)),
        )
        enc = tok(
            text,
            truncation=True,
            max_length=limit,
            stride=min(self.stride, limit // 2),
            return_overflowing_tokens=True,
            padding=True,
            return_tensors="pt",
        )
        enc.pop("overflow_to_sample_mapping", None)
        with torch.no_grad():
            probs = torch.softmax(model(**enc).logits, dim=-1)
        id2label: dict[int, str] = model.config.id2label
        wanted = [i for i, name in id2label.items() if name.upper() in self.labels]
        if not wanted:
            raise PolicyError(
                f"model labels {sorted(id2label.values())} include none of {self.labels}"
            )
        score = float(probs[:, wanted].sum(dim=-1).max())
        if score < self.threshold:
            return RuleResult.clean(self.name, score)
        return RuleResult(self.name, True, score, "transformer." + id2label[wanted[0]].lower())
