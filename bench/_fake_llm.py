"""A local OpenAI-compatible fake LLM for the red-team benchmark, with request statistics.

``python bench/_fake_llm.py --port N`` serves ``POST /v1/chat/completions`` (a refusal
that quotes the start of the prompt, so both tools' detectors have work to do) and
``/stats`` (request count and first/last request times; ``POST /stats`` resets them).

It is a minimal HTTP/1.1 server on asyncio streams (keep-alive, Content-Length bodies
only) rather than a web framework, so that the target costs as little CPU as possible
and the benchmark measures the red-team runners, which share the machine with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

STATS: dict[str, Any] = {"requests": 0, "first": None, "last": None}


def completion(body: bytes) -> dict[str, Any]:
    now = time.time()
    STATS["requests"] += 1
    STATS["first"] = STATS["first"] or now
    STATS["last"] = now
    try:
        messages = json.loads(body).get("messages") or [{"content": ""}]
        content = messages[-1].get("content")
    except (ValueError, AttributeError):
        content = ""
    prompt = content if isinstance(content, str) else str(content)
    text = f"I'm sorry, but I can't help with that. You asked: \"{prompt[:200]}\""
    return {
        "id": "x", "object": "chat.completion", "created": int(now), "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 20, "total_tokens": 21},
    }  # fmt: skip


def route(method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    if path.rstrip("/").endswith("/chat/completions") and method == "POST":
        return 200, completion(body)
    if path == "/stats":
        if method == "POST":
            STATS.update(requests=0, first=None, last=None)
        return 200, dict(STATS)
    return 404, {"error": {"message": "not found", "type": "invalid_request_error"}}


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (x.partition(":") for x in lines[1:] if x)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            status, payload = route(method, path.split("?", 1)[0], body)
            data = json.dumps(payload).encode()
            writer.write(
                f"HTTP/1.1 {status} {'OK' if status == 200 else 'Not Found'}\r\n"
                f"content-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n".encode()
                + data
            )
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(main(parser.parse_args().port))
