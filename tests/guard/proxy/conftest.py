"""A fake OpenAI-compatible upstream and the proxy in front of it, on real sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bastion.guard.proxy import KeyStore, ProxyConfig, create_app, generate_key
from bastion.guard.proxy.keys import ApiKey
from tests._servers import ThreadedServer

CANARY = "bst-canary-0123456789abcdef"
GH_TOKEN = "ghp_" + "a1B2" * 9


def reply_for(prompt: str) -> str:
    """The fake model's answer: 'say: X' answers X; anything else, a fixed sentence."""
    if "say:" in prompt:
        # <gh-token> stands for a secret only the model knows (the prompt side would redact it)
        return prompt.split("say:", 1)[1].strip().replace("<gh-token>", GH_TOKEN)
    return "Otters hold hands while they sleep so they do not drift apart."


def _last_prompt(body: dict[str, Any]) -> str:
    if "messages" in body:
        return str(body["messages"][-1]["content"])
    return str(body.get("prompt", ""))


async def _chat(request: Request) -> Response:
    body = await request.json()
    text = reply_for(_last_prompt(body))
    if "slow-upstream" in text:
        await asyncio.sleep(5)
    if "upstream-500" in text:
        return JSONResponse({"error": {"message": "boom"}}, 500)
    chat = request.url.path.endswith("chat/completions")
    request.app.state.seen.append(body)
    if body.get("stream"):
        n = int(body.get("n") or 1)
        return StreamingResponse(_chunks(text, chat, n), media_type="text/event-stream")
    choice: dict[str, Any] = (
        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        if chat
        else {"index": 0, "text": text, "finish_reason": "stop"}
    )
    return JSONResponse({
        "id": "x", "object": "chat.completion" if chat else "text_completion", "created": 1,
        "model": "fake", "choices": [choice],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    })  # fmt: skip


async def _chunks(text: str, chat: bool, n: int = 1) -> AsyncIterator[bytes]:
    """The text in 7-character pieces; with n > 1, every chunk carries all n choices."""
    pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
    obj = "chat.completion.chunk" if chat else "text_completion"
    for i, piece in enumerate(pieces):
        finish = "stop" if i == len(pieces) - 1 else None
        choices = [
            {"index": k, "delta": {"content": piece}, "finish_reason": finish}
            if chat
            else {"index": k, "text": piece, "finish_reason": finish}
            for k in range(n)
        ]
        chunk = {"id": "x", "object": obj, "created": 1, "model": "fake", "choices": choices}
        yield f"data: {json.dumps(chunk)}\n\n".encode()
        await asyncio.sleep(0)
    yield b"data: [DONE]\n\n"


async def _models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": [{"id": "fake", "object": "model",
                                                     "created": 1, "owned_by": "me"}]})  # fmt: skip


async def _embeddings(request: Request) -> Response:
    body = await request.json()
    vector = [0.1, 0.2, float(len(body["input"]))]
    return JSONResponse({
        "object": "list", "model": "fake",
        "data": [{"object": "embedding", "index": 0, "embedding": vector}],
        "usage": {"prompt_tokens": 1, "total_tokens": 1},
    })  # fmt: skip


def upstream_app() -> Starlette:
    app = Starlette(routes=[
        Route("/v1/chat/completions", _chat, methods=["POST"]),
        Route("/v1/completions", _chat, methods=["POST"]),
        Route("/v1/models", _models), Route("/v1/embeddings", _embeddings, methods=["POST"]),
    ])  # fmt: skip
    app.state.seen = []
    return app


class Server(ThreadedServer):
    """An app served in a thread; ``url`` is its base URL."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def upstream() -> Iterator[Server]:
    with Server(upstream_app()) as server:
        yield server


@pytest.fixture(scope="session")
def api_key() -> tuple[str, ApiKey]:
    key, digest = generate_key()
    return key, ApiKey("test", digest)


ProxyFactory = Callable[..., Server]


@pytest.fixture
def make_proxy(upstream: Server, api_key: tuple[str, ApiKey]) -> Iterator[ProxyFactory]:
    servers: list[Server] = []

    def make(*, keys: list[ApiKey] | None = None, **options: Any) -> Server:
        config = ProxyConfig(
            upstream=upstream.url + "/v1", keys=KeyStore(keys or [api_key[1]]), **options
        )
        server = Server(create_app(config)).__enter__()
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.__exit__()
