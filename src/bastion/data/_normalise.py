"""Turn one row of any common instruction or chat layout into (prompt, response).

Layouts understood, tried in this order:

- OpenAI chat ``messages`` (``role``/``content``) and ShareGPT ``conversations``
  (``from``/``value``): the prompt is every non-assistant turn, the response every
  assistant turn;
- Alpaca ``instruction`` / ``input`` / ``output``;
- pairs: ``prompt``/``response``, ``prompt``/``completion``, ``question``/``answer``,
  ``query``/``response``, ``input``/``output``, ``prompt``/``chosen`` (preference data);
- a lone ``text`` field (pre-training style): all prompt, no response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ASSISTANT = frozenset({"assistant", "gpt", "bot", "model", "chatbot"})
_CHAT_KEYS = (("messages", "role", "content"), ("conversations", "from", "value"))
_PAIRS = (
    ("prompt", "response"),
    ("prompt", "completion"),
    ("prompt", "chosen"),
    ("question", "answer"),
    ("query", "response"),
    ("input", "output"),
    ("instruction", "response"),
    ("instruction", "output"),
)


class LayoutError(ValueError):
    """The row has none of the layouts above."""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # OpenAI content parts: [{"type": "text", "text": ...}]
        return "\n".join(
            p.get("text", "") if isinstance(p, Mapping) else _text(p) for p in value
        ).strip()
    if isinstance(value, (int, float, bool)):
        return str(value)
    raise LayoutError(f"expected text, found {type(value).__name__}")


def _chat(turns: Any, role_key: str, text_key: str) -> tuple[str, str]:
    if not isinstance(turns, list):
        raise LayoutError("the conversation is not a list of turns")
    prompt: list[str] = []
    response: list[str] = []
    for turn in turns:
        if not isinstance(turn, Mapping):
            raise LayoutError("a conversation turn is not an object")
        role = str(turn.get(role_key, "")).lower()
        text = _text(turn.get(text_key))
        (response if role in _ASSISTANT else prompt).append(text)
    return "\n".join(prompt), "\n".join(response)


#: The fields of the layouts tried before ``prompt``/``response``.
_BEFORE_PAIRS = frozenset({"messages", "conversations", "instruction"})


def normalise(row: Mapping[str, Any]) -> tuple[str, str]:
    """The row's prompt and response; raises LayoutError when it has neither."""
    # The most common layout first, when none tried before it can apply: one C call
    # over the row's few keys, instead of the loops below.
    if _BEFORE_PAIRS.isdisjoint(row):
        prompt = row.get("prompt")
        response = row.get("response")
        if type(prompt) is str and type(response) is str:
            return prompt, response
    for key, role_key, text_key in _CHAT_KEYS:
        if key in row:
            return _chat(row[key], role_key, text_key)
    if "instruction" in row and "output" in row:
        extra = _text(row.get("input"))
        prompt = _text(row["instruction"]) + ("\n" + extra if extra else "")
        return prompt, _text(row["output"])
    for p, r in _PAIRS:
        if p in row and r in row:
            return _text(row[p]), _text(row[r])
    if "text" in row:
        return _text(row["text"]), ""
    keys = ", ".join(sorted(str(k) for k in row)[:8]) or "none"
    raise LayoutError(
        f"no prompt/response fields (keys: {keys}); expected messages, "
        "instruction/output, prompt/response or text"
    )
