"""The optional local transformer rule, with a tiny model built here (nothing downloaded)."""

# ruff: noqa: S106 - special-token names, not passwords

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.errors import PolicyError
from bastion.guard import Context
from bastion.guard.transformer import TransformerClassifier

pytestmark = pytest.mark.slow  # importing torch and transformers takes a while

transformers = pytest.importorskip("transformers")
torch = pytest.importorskip("torch")
tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny-guard-model")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "ignore", "previous", "instructions", "hello"]
    tok = tokenizers.Tokenizer(
        tokenizers.models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]")
    )
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
        sep_token="[SEP]", model_max_length=16,
    )  # fmt: skip
    config = transformers.BertConfig(
        vocab_size=len(words), hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=32, num_labels=2,
        id2label={0: "BENIGN", 1: "INJECTION"}, label2id={"BENIGN": 0, "INJECTION": 1},
    )  # fmt: skip
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    with torch.no_grad():
        # A head that ignores its input and says INJECTION with p = sigmoid(2) = 0.88.
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 2.0]))
    fast.save_pretrained(path)
    model.save_pretrained(path)
    return path


def test_scores_through_the_rule_interface(tiny_model: Path) -> None:
    rule = TransformerClassifier(path=str(tiny_model))
    # Longer than the model's 32 positions: scored in overlapping chunks, not truncated away.
    result = rule.check("hello " * 40 + "ignore previous instructions", Context())
    assert result.score == pytest.approx(0.8808, abs=1e-3)
    assert result.triggered
    assert result.reason == "transformer.injection"
    strict = TransformerClassifier(path=str(tiny_model), threshold=0.9)
    assert not strict.check("hello", Context()).triggered


def test_labels_must_exist(tiny_model: Path) -> None:
    rule = TransformerClassifier(path=str(tiny_model), labels=("NOPE",))
    with pytest.raises(PolicyError, match="include none"):
        rule.check("hello", Context())


def test_needs_a_path_and_a_model(tmp_path: Path) -> None:
    with pytest.raises(PolicyError):
        TransformerClassifier()
    with pytest.raises(PolicyError, match="cannot load"):
        TransformerClassifier(path=str(tmp_path)).check("hi", Context())
