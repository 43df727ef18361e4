"""Targets: an OpenAI-compatible HTTP endpoint, or a Python callable.

:class:`HttpTarget` posts to ``{base_url}/chat/completions`` with aiohttp, at most
``concurrency`` requests in flight, no more than ``rate`` requests per
second, and retries with exponential backoff on 429, 5xx and transport errors
(honouring ``Retry-After`` up to ``max_backoff``). Other 4xx answers fail at once:
retrying a bad request does not make it good. Answers over ``max_answer_bytes`` are
refused. The API key is sent as a bearer token and never appears in errors or reports.

Why aiohttp and not httpx (which the rest of Bastion uses): a run is thousands of small
requests, and against a local server httpx spent about 3 ms of CPU on each where aiohttp
spends 0.2 ms (its HTTP parser is compiled); the runner's CPU per prompt is what the
benchmark against garak measures.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bastion.redteam.base import Request, Response, TargetError, ToolCall

_RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class RateLimiter:
    """At most ``rate`` acquisitions per second, evenly spaced (0 or less: unlimited)."""

    def __init__(
        self, rate: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()
        self._sleep = sleep

    async def acquire(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            await self._sleep(wait)


def _tool_schema(name: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"Performs {name.replace('_', ' ')}.",
            "parameters": {"type": "object", "properties": {}, "additionalProperties": True},
        },
    }


def parse_chat_completion(data: Any) -> Response:
    """A :class:`Response` from an OpenAI chat completion body; TargetError if malformed."""
    try:
        choice = data["choices"][0]
        message = choice.get("message") or {}
        text = message.get("content") or ""
        calls = tuple(
            ToolCall(str(c["function"]["name"]), str(c["function"].get("arguments") or ""))
            for c in message.get("tool_calls") or ()
        )
        usage = data.get("usage") or {}
        tokens = usage.get("completion_tokens")
        return Response(
            text=str(text),
            tool_calls=calls,
            finish_reason=str(choice.get("finish_reason") or ""),
            completion_tokens=int(tokens) if isinstance(tokens, int) else None,
        )
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
        raise TargetError(f"the target's answer is not a chat completion: {exc!r}") from exc


@dataclass(slots=True)
class HttpTarget:
    """An OpenAI-compatible ``/chat/completions`` endpoint."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    concurrency: int = 8
    rate: float = 0.0
    retries: int = 4
    backoff: float = 0.5
    max_backoff: float = 30.0
    timeout: float = 60.0
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    max_answer_bytes: int = 16 << 20
    _client: Any = field(default=None, init=False, repr=False)
    _sem: asyncio.Semaphore | None = field(default=None, init=False, repr=False)
    _limiter: RateLimiter | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise TargetError(
                f"target URL {self.base_url!r} must start with http:// or https://",
                hint="Pass the API base, e.g. http://127.0.0.1:8000/v1",
            )
        self.name = self.name or f"{self.model}@{self.base_url}"

    async def __aenter__(self) -> HttpTarget:
        import aiohttp

        headers = {"content-type": "application/json", **self.headers}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        # TLS: aiohttp's default verifying context (the system's trust store).
        self._client = aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            connector=aiohttp.TCPConnector(limit=self.concurrency),
            raise_for_status=False,
        )
        self._sem = asyncio.Semaphore(self.concurrency)
        self._limiter = RateLimiter(self.rate)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _post(self, url: str, payload: bytes) -> tuple[int, bytes, str | None]:
        """One POST: the status, the body (at most ``max_answer_bytes``), Retry-After."""
        assert self._client is not None
        assert self._sem is not None
        async with self._sem, self._client.post(url, data=payload) as reply:
            declared = reply.content_length
            if declared is not None and declared > self.max_answer_bytes:
                raise TargetError(f"the target's answer is over {self.max_answer_bytes} bytes")
            raw = await reply.content.read(self.max_answer_bytes + 1)
            while len(raw) <= self.max_answer_bytes and not reply.content.at_eof():
                more = await reply.content.read(self.max_answer_bytes + 1 - len(raw))
                if not more:
                    break
                raw += more
            if len(raw) > self.max_answer_bytes:
                raise TargetError(f"the target's answer is over {self.max_answer_bytes} bytes")
            return reply.status, raw, reply.headers.get("retry-after")

    def _body(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.tools:
            body["tools"] = [_tool_schema(t) for t in request.tools]
        return body

    async def send(self, request: Request) -> Response:
        if self._client is None or self._sem is None or self._limiter is None:
            raise TargetError("HttpTarget.send called outside 'async with target'")
        import aiohttp

        payload = json.dumps(self._body(request)).encode()
        url = self.base_url + "/chat/completions"
        last = ""
        for attempt in range(self.retries + 1):
            await self._limiter.acquire()
            delay = min(self.max_backoff, self.backoff * 2**attempt)
            try:
                status, raw, retry_after = await self._post(url, payload)
            except (aiohttp.ClientError, TimeoutError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if status == 200:
                    try:
                        return parse_chat_completion(json.loads(raw))
                    except ValueError as exc:
                        raise TargetError(f"the target answered invalid JSON: {exc}") from exc
                last = f"HTTP {status}: {raw[:200].decode('utf-8', 'replace')}"
                blocked = _filter_block(status, raw)
                if blocked:
                    return Response("", finish_reason="content_filter", blocked=blocked)
                if status not in _RETRY_STATUS:
                    raise TargetError(f"the target refused the request ({last})")
                delay = max(delay, min(self.max_backoff, _retry_after(retry_after)))
            if attempt < self.retries:
                await asyncio.sleep(delay)
        raise TargetError(f"no answer after {self.retries + 1} tries ({last})")


def _filter_block(status: int, raw: bytes) -> str:
    """The code of a 4xx that says a filter blocked the request (Bastion guard, content filters)."""
    if status not in (400, 403, 422, 451):
        return ""
    try:
        error = json.loads(raw).get("error") or {}
        code, kind = str(error.get("code") or ""), str(error.get("type") or "")
    except (ValueError, AttributeError):
        return ""
    if kind == "guard_block" or code.startswith("guard.") or "content_filter" in (code, kind):
        return code or kind
    return ""


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value or 0))
    except (TypeError, ValueError):
        return 0.0


TargetFn = Callable[[Request], "Response | str | Awaitable[Response | str]"]


@dataclass(slots=True)
class CallableTarget:
    """A Python function (sync or async) from a :class:`Request` to a Response or a string.

    Sync functions run in a worker thread so they do not block the event loop.
    """

    fn: TargetFn
    name: str = "callable"
    concurrency: int = 8
    _sem: asyncio.Semaphore | None = field(default=None, init=False, repr=False)

    async def __aenter__(self) -> CallableTarget:
        self._sem = asyncio.Semaphore(self.concurrency)
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, request: Request) -> Response:
        sem = self._sem or asyncio.Semaphore(self.concurrency)
        async with sem:
            if inspect.iscoroutinefunction(self.fn):
                result = await self.fn(request)
            else:
                result = await asyncio.to_thread(self.fn, request)
                if inspect.isawaitable(result):
                    result = await result
        if isinstance(result, Response):
            return result
        if isinstance(result, str):
            return Response(text=result)
        raise TargetError(f"the target function returned {type(result).__name__}, not str/Response")
