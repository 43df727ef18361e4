"""The OpenAI-compatible guard proxy, as a Starlette ASGI app.

request -> API key -> rate limit -> extraction detector -> input rules on every
non-system message -> upstream -> output rules (as the stream flows, for SSE) -> response.

The extraction detector (optional, ``ProxyConfig.extraction``) scores the client's traffic;
a throttled client's requests wait, one that must re-authenticate gets 401
``extraction_reauth_required``, a blocked one 403 ``extraction_blocked`` and one over a
budget 429 ``extraction_budget`` with Retry-After.

Blocks answer with an OpenAI-style error (HTTP 400, ``type`` ``guard_block``, ``code``
the reason, e.g. ``prompt-attack``) that never contains the offending text. Bad
requests, oversized bodies, slow clients, upstream errors and timeouts get clear
errors; nothing unchecked is ever passed on.

The upstream is called with aiohttp (its HTTP parser is compiled: a streamed answer of
60 chunks costs a fraction of what httpx's pure-Python parser costs per chunk), one
session per app, created on the first request inside the server's event loop. The
upstream's SSE lines are parsed as bytes; only chunks that release text are
re-encoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bastion.audit.base import AuditEvent, AuditSink, Outcome
from bastion.guard import Context, Guard, PlaceholderVault, ScanResult, StreamGuard
from bastion.guard.length import count_tokens
from bastion.guard.proxy.keys import ApiKey, KeyStore
from bastion.guard.proxy.ratelimit import Limits, MemoryRateLimiter, RateLimiter

if TYPE_CHECKING:
    from bastion.guard.extraction import ExtractionDetector
    from bastion.monitoring.metrics import Metrics

audit = logging.getLogger("bastion.guard.audit")


@dataclass
class ProxyConfig:
    """Everything the proxy needs; built by the CLI or by the caller."""

    upstream: str
    keys: KeyStore
    guard: Guard = field(default_factory=Guard.default)
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    upstream_api_key: str | None = None
    requests_per_minute: int = 60
    tokens_per_minute: int = 100_000
    max_body_bytes: int = 1 << 20
    body_timeout: float = 30.0
    upstream_timeout: float = 60.0
    default_max_tokens: int = 512
    system_prompt: str | None = None
    canary: str | None = None
    url_allowlist: tuple[str, ...] = ()
    extraction: ExtractionDetector | None = None
    metrics: Metrics | None = None  # serve GET /metrics (Prometheus text) when given
    # refusals (blocks, unknown keys, rate limits) as audit events; the logger has the rest
    audit: AuditSink | None = None


class ProxyError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


def error_body(code: str, message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _error(exc: ProxyError) -> JSONResponse:
    kind = (
        "guard_block"
        if exc.code.startswith("guard.")
        else "guard_extraction"
        if exc.code.startswith("extraction_")
        else "invalid_request_error"
    )
    headers = {"retry-after": str(exc.retry_after)} if exc.retry_after else None
    return JSONResponse(error_body(exc.code, exc.message, kind), exc.status, headers=headers)


def _record_block(
    sink: AuditSink | None,
    key: ApiKey,
    result: ScanResult,
    direction: str,
    sha256: str | None,
    *,
    streamed: bool = False,
) -> None:
    rule = result.reasons[0] if result.reasons else "policy"
    _denied(sink, "guard.block", key, f"{direction} blocked ({rule})", rule=rule,
            rules=",".join(result.reasons), direction=direction, sha256=sha256,
            streamed=streamed or None)  # fmt: skip


def _blocked(result: ScanResult, where: str) -> ProxyError:
    reason = result.reasons[0] if result.reasons else "policy"
    return ProxyError(
        400, f"guard.{reason}", f"The {where} was blocked by Bastion guard ({reason})."
    )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _audit(event: str, key: ApiKey | None, **fields: Any) -> None:
    audit.info(event, extra={"event": event, "key_id": key.id if key else None, **fields})


def _denied(
    sink: AuditSink | None,
    action: str,
    key: ApiKey | None,
    reason: str,
    *,
    source: str | None = None,
    **details: str | int | bool | None,
) -> None:
    """A refusal of the proxy as an audit event (``guard.block``, ``guard.auth``,
    ``guard.rate_limit``), outcome denied: rule and digests, never the text."""
    if sink is None:
        return
    sink.emit(
        AuditEvent(
            action=action,
            actor=f"key:{key.id}" if key else "anonymous",
            outcome=Outcome.DENIED,
            resource="guard",
            source=source,
            reason=reason,
            details={k: v for k, v in details.items() if v is not None},
        )
    )


class GuardProxy:
    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.base = config.upstream.rstrip("/")
        # connect: waiting for a pooled connection plus connecting; sock_connect: the TCP
        # (and TLS) connect itself; sock_read: the longest wait for the next bytes.
        self.timeout = aiohttp.ClientTimeout(
            total=None,
            connect=config.upstream_timeout,
            sock_connect=10.0,
            sock_read=config.upstream_timeout,
        )
        self._session: aiohttp.ClientSession | None = None
        self.http_proxy = _env_proxy(self.base)

    @property
    def client(self) -> aiohttp.ClientSession:
        """The upstream session, made on first use (aiohttp wants a running loop)."""
        if self._session is None or self._session.closed:
            # No trust_env: it would read ~/.netrc on every request (in a thread) and
            # fail a request whose host is in it; the proxy comes from _env_proxy.
            self._session = aiohttp.ClientSession(timeout=self.timeout, raise_for_status=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- plumbing ----------------------------------------------------------
    async def _authenticate(self, request: Request) -> ApiKey:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else None
        key = self.config.keys.verify(token)
        if key is None:
            _audit("guard.auth_denied", None)
            source = request.client.host if request.client else None
            _denied(self.config.audit, "guard.auth", None, "missing or unknown API key",
                    rule="invalid_api_key", source=source)  # fmt: skip
            raise ProxyError(401, "invalid_api_key", "Missing or unknown API key.")
        return key

    async def _body(self, request: Request) -> dict[str, Any]:
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.config.max_body_bytes:
            raise ProxyError(413, "body_too_large", "The request body is too large.")
        chunks: list[bytes] = []
        size = 0

        async def read() -> None:
            nonlocal size
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.config.max_body_bytes:
                    raise ProxyError(413, "body_too_large", "The request body is too large.")
                chunks.append(chunk)

        try:
            # asyncio.timeout, not wait_for: wait_for runs read() as a new task, one more
            # turn of the event loop per request, which a loaded proxy pays in latency.
            async with asyncio.timeout(self.config.body_timeout):
                await read()
        except TimeoutError:
            raise ProxyError(408, "body_timeout", "The request body arrived too slowly.") from None
        try:
            body = json.loads(b"".join(chunks))
        except (ValueError, UnicodeDecodeError):
            raise ProxyError(400, "invalid_json", "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise ProxyError(400, "invalid_json", "The request body must be a JSON object.")
        return body

    async def _limit(self, key: ApiKey, tokens: int) -> None:
        limits = Limits(
            key.requests_per_minute or self.config.requests_per_minute,
            key.tokens_per_minute or self.config.tokens_per_minute,
        )
        decision = await self.config.limiter.hit(key.id, tokens, limits)
        if not decision.allowed:
            _audit("guard.rate_limited", key, reason=decision.reason)
            _denied(self.config.audit, "guard.rate_limit", key, decision.reason,
                    rule=decision.reason)  # fmt: skip
            raise ProxyError(429, decision.reason, "Rate limit exceeded.", decision.retry_after)

    async def _extraction(
        self, request: Request, key: ApiKey, body: dict[str, Any], tokens: int
    ) -> None:
        detector = self.config.extraction
        if detector is None:
            return
        from bastion.errors import BastionError
        from bastion.guard.extraction import Level

        source = request.client.host if request.client else None
        try:
            d = await detector.check(
                key_id=key.id, source=source, text=_query_text(body), params=body, tokens=tokens
            )
        except BastionError:  # the shared state is unreachable: fail closed
            raise ProxyError(
                503, "extraction_unavailable", "The usage monitor is unavailable; retry later.", 5
            ) from None
        if d.retry_after:
            raise ProxyError(
                429, "extraction_budget", "Usage budget for this period exceeded.", d.retry_after
            )
        if d.level >= Level.BLOCK:
            raise ProxyError(
                403,
                "extraction_blocked",
                "This client is blocked: its traffic looks like model extraction. "
                "Contact the operator of this API.",
            )
        if d.level >= Level.REAUTH:
            raise ProxyError(
                401,
                "extraction_reauth_required",
                "This API key is suspended pending re-authentication: its traffic looks like "
                "model extraction. Contact the operator of this API.",
            )
        if d.delay > 0:
            await asyncio.sleep(d.delay)

    def _headers(self) -> dict[str, str]:
        h = {"content-type": "application/json"}
        if self.config.upstream_api_key:
            h["authorization"] = f"Bearer {self.config.upstream_api_key}"
        return h

    def _context(self, system_prompt: str | None, vault: PlaceholderVault) -> Context:
        prompts = [p for p in (self.config.system_prompt, system_prompt) if p]
        return Context(
            system_prompt="\n".join(prompts) or None,
            canary=self.config.canary,
            url_allowlist=self.config.url_allowlist,
            vault=vault,
        )

    # -- input -------------------------------------------------------------
    def _check_inputs(self, body: dict[str, Any], key: ApiKey, ctx: Context) -> ScanResult | None:
        """Check and rewrite every non-system message (or the prompt) in place."""
        guard = self.config.guard
        worst: ScanResult | None = None
        targets: list[tuple[dict[str, Any] | list[Any], Any]] = []
        if "messages" in body:
            messages = body["messages"]
            if not isinstance(messages, list) or not messages:
                raise ProxyError(400, "invalid_messages", "'messages' must be a non-empty list.")
            for m in messages:
                if not isinstance(m, dict):
                    raise ProxyError(400, "invalid_messages", "Each message must be an object.")
                if m.get("role") in ("system", "developer"):
                    continue
                content = m.get("content")
                if isinstance(content, str):
                    targets.append((m, "content"))
                elif isinstance(content, list):
                    targets.extend((part, "text") for part in content if isinstance(part, dict)
                                   and isinstance(part.get("text"), str))  # fmt: skip
        elif "prompt" in body:
            prompt = body["prompt"]
            if isinstance(prompt, str):
                targets.append((body, "prompt"))
            elif isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
                targets.extend((prompt, i) for i in range(len(prompt)))
            else:
                raise ProxyError(400, "invalid_prompt", "'prompt' must be a string or strings.")
        else:
            raise ProxyError(400, "invalid_request", "Expected 'messages' or 'prompt'.")
        for holder, slot in targets:
            text = holder[slot]
            result = guard.check_input(text, ctx)
            _audit("guard.input", key, verdict=result.verdict.label, reasons=list(result.reasons),
                   sha256=_sha(text))  # fmt: skip
            if result.blocked:
                _record_block(self.config.audit, key, result, "input", _sha(text))
                raise _blocked(result, "request")
            holder[slot] = result.text
            if worst is None or result.verdict > worst.verdict:
                worst = result
        return worst

    # -- endpoints ---------------------------------------------------------
    async def completions(self, request: Request) -> Response:
        try:
            key = await self._authenticate(request)
            body = await self._body(request)
            chat = request.url.path.endswith("/chat/completions")
            system = None
            if chat and isinstance(body.get("messages"), list):
                system = "\n".join(
                    m["content"] for m in body["messages"]
                    if isinstance(m, dict) and m.get("role") in ("system", "developer")
                    and isinstance(m.get("content"), str)
                ) or None  # fmt: skip
            vault = PlaceholderVault()
            ctx = self._context(system, vault)
            prompt_tokens = count_tokens(json.dumps(body.get("messages", body.get("prompt", ""))))
            max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
            budget = max_tokens if isinstance(max_tokens, int) else self.config.default_max_tokens
            await self._limit(key, prompt_tokens + budget)
            await self._extraction(request, key, body, prompt_tokens + budget)
            input_result = self._check_inputs(body, key, ctx)
            ctx = Context(ctx.system_prompt, ctx.canary, ctx.url_allowlist, vault, input_result)
            path = "/chat/completions" if chat else "/completions"
            if body.get("stream"):
                return await self._stream(path, body, key, ctx, chat)
            return await self._plain(path, body, key, ctx, chat)
        except ProxyError as exc:
            return _error(exc)

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> aiohttp.ClientResponse:
        """The upstream's response, its body not read yet; the caller releases it."""
        payload = None if body is None else _encode(body)
        try:
            return await self.client.request(
                method, self.base + path, data=payload, headers=self._headers(),
                proxy=self.http_proxy,
            )  # fmt: skip
        except TimeoutError:
            raise ProxyError(504, "upstream_timeout", "The upstream model timed out.") from None
        except aiohttp.ClientError:
            raise ProxyError(
                502, "upstream_unavailable", "The upstream model is unreachable."
            ) from None

    async def _send(
        self, method: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, bytes]:
        """The upstream's status and whole body."""
        upstream = await self._request(method, path, body)
        try:
            return upstream.status, await upstream.read()
        except TimeoutError:
            raise ProxyError(504, "upstream_timeout", "The upstream model timed out.") from None
        except aiohttp.ClientError:
            raise ProxyError(
                502, "upstream_unavailable", "The upstream model is unreachable."
            ) from None
        finally:
            upstream.release()

    async def _plain(
        self, path: str, body: dict[str, Any], key: ApiKey, ctx: Context, chat: bool
    ) -> Response:
        status, raw = await self._send("POST", path, body)
        if status >= 400:
            return _upstream_error(status)
        try:
            data = json.loads(raw)
            choices = data["choices"]
        except (ValueError, KeyError, TypeError):
            raise ProxyError(502, "upstream_invalid", "The upstream answer is not valid.") from None
        for choice in choices:
            holder = choice.get("message", {}) if chat else choice
            slot = "content" if chat else "text"
            text = holder.get(slot)
            if not isinstance(text, str):
                continue
            result = self.config.guard.check_output(text, ctx)
            _audit("guard.output", key, verdict=result.verdict.label, reasons=list(result.reasons),
                   sha256=_sha(text))  # fmt: skip
            if result.blocked:
                _record_block(self.config.audit, key, result, "output", _sha(text))
                raise _blocked(result, "response")
            holder[slot] = ctx.vault.restore(result.text) if ctx.vault else result.text
        return JSONResponse(data)

    async def _stream(
        self, path: str, body: dict[str, Any], key: ApiKey, ctx: Context, chat: bool
    ) -> Response:
        upstream = await self._request("POST", path, body)
        if upstream.status >= 400:
            upstream.release()
            return _upstream_error(upstream.status)
        events = _relay(upstream, self.config.guard, ctx, key, chat, self.config.audit)
        return StreamingResponse(events, media_type="text/event-stream")

    async def passthrough(self, request: Request) -> Response:
        try:
            key = await self._authenticate(request)
            if request.method == "POST":
                body = await self._body(request)
                await self._limit(key, count_tokens(json.dumps(body.get("input", ""))))
                status, raw = await self._send("POST", request.url.path.removeprefix("/v1"), body)
            else:
                await self._limit(key, 0)
                status, raw = await self._send("GET", request.url.path.removeprefix("/v1"))
        except ProxyError as exc:
            return _error(exc)
        if status >= 400:
            return _upstream_error(status)
        return Response(raw, status, media_type="application/json")


def _env_proxy(url: str) -> str | None:
    """The HTTP proxy the environment sets for ``url`` (``HTTPS_PROXY``, ``HTTP_PROXY``,
    ``ALL_PROXY``, minus ``NO_PROXY``), or None."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


def _encode(body: dict[str, Any]) -> bytes:
    """The request body as the upstream gets it: compact UTF-8 JSON."""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:  # NaN or a lone surrogate the client's JSON carried
        raise ProxyError(400, "invalid_json", "The request body is not valid JSON.") from None


def _query_text(body: dict[str, Any]) -> str:
    """The text the client asks about: the last user message, or the prompt."""
    messages = body.get("messages")
    if isinstance(messages, list):
        for m in reversed(messages):
            if isinstance(m, dict) and m.get("role") == "user":
                content = m.get("content")
                if isinstance(content, list):
                    return "\n".join(p["text"] for p in content if isinstance(p, dict)
                                     and isinstance(p.get("text"), str))  # fmt: skip
                return content if isinstance(content, str) else ""
        return ""
    prompt = body.get("prompt")
    if isinstance(prompt, list):
        return "\n".join(p for p in prompt if isinstance(p, str))
    return prompt if isinstance(prompt, str) else ""


def _upstream_error(upstream_status: int) -> JSONResponse:
    status = upstream_status if upstream_status < 500 else 502
    return JSONResponse(
        error_body(f"upstream_{upstream_status}", "The upstream model returned an error.",
                   "upstream_error"), status)  # fmt: skip


def _sse(data: dict[str, Any] | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {payload}\n\n".encode()


class _Blocked(Exception):
    def __init__(self, result: ScanResult) -> None:
        super().__init__("blocked")
        self.result = result


class _StreamRelay:
    """Per-choice StreamGuards for one SSE response; rewrites each chunk's text."""

    def __init__(self, guard: Guard, ctx: Context, chat: bool) -> None:
        self.guard, self.ctx, self.chat = guard, ctx, chat
        self.streams: dict[int, StreamGuard] = {}

    def _slot(self, choice: dict[str, Any]) -> tuple[dict[str, Any], str]:
        if self.chat:
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                delta = choice["delta"] = {}
            return delta, "content"
        return choice, "text"

    def _restore(self, text: str) -> str:
        return self.ctx.vault.restore(text) if self.ctx.vault else text

    def rewrite(self, chunk: dict[str, Any]) -> bool:
        """Replace every choice's text by what its guard releases; raise _Blocked.

        Returns whether the chunk is worth sending (text, a role or a finish).
        """
        send = False
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            holder, slot = self._slot(choice)
            piece = holder.get(slot)
            index = int(choice.get("index", 0))
            sg = self.streams.get(index)
            if sg is None:
                sg = self.streams[index] = self.guard.stream(self.ctx)
            release = ""
            if isinstance(piece, str) and piece:
                update = sg.feed(piece)
                if update.blocked is not None:
                    raise _Blocked(update.blocked)
                release = update.release
            if choice.get("finish_reason") is not None:
                end = sg.finish()
                if end.blocked is not None:
                    raise _Blocked(end.blocked)
                release += end.release
                send = True
            if isinstance(piece, str) or release:
                holder[slot] = self._restore(release) if release else ""
            send = send or bool(release) or piece is None
        return send

    def leftovers(self, last: dict[str, Any]) -> dict[str, Any] | None:
        """Streams that ended without a finish_reason: check and release the rest."""
        out: list[dict[str, Any]] = []
        for index, sg in self.streams.items():
            end = sg.finish()
            if end.blocked is not None:
                raise _Blocked(end.blocked)
            if end.release:
                choice: dict[str, Any] = {"index": index, "finish_reason": None}
                if self.chat:
                    choice["delta"] = {"content": self._restore(end.release)}
                else:
                    choice["text"] = self._restore(end.release)
                out.append(choice)
        return {**last, "choices": out} if out else None


def _data_lines(buf: bytes, final: bool = False) -> tuple[list[bytes], bytes]:
    """The payloads of the complete SSE ``data:`` lines in ``buf`` (lines end in LF, CRLF
    or CR), and the incomplete rest; at the end of the stream (``final``) no rest."""
    lines = buf.splitlines(True)
    rest = b""
    if lines and not final and not lines[-1].endswith((b"\n", b"\r")):
        rest = lines.pop()
    return [line[5:].strip() for line in lines if line.startswith(b"data:")], rest


async def _payloads(upstream: aiohttp.ClientResponse) -> AsyncIterator[list[bytes]]:
    """The upstream's ``data:`` payloads, in batches as the bytes arrive."""
    buf = b""
    async for data in upstream.content.iter_any():
        buf += data
        if b"\n" in data or b"\r" in data:
            payloads, buf = _data_lines(buf)
            if payloads:
                yield payloads
    if buf:
        yield _data_lines(buf, final=True)[0]


async def _relay(
    upstream: aiohttp.ClientResponse,
    guard: Guard,
    ctx: Context,
    key: ApiKey,
    chat: bool,
    sink: AuditSink | None = None,
) -> AsyncIterator[bytes]:
    """Re-emit the upstream SSE stream, with each choice's text held back and checked."""
    relay = _StreamRelay(guard, ctx, chat)
    last: dict[str, Any] = {}
    out: list[bytes] = []  # the chunks of one batch, sent in one write
    try:
        done = False
        async for payloads in _payloads(upstream):
            out = []
            for payload in payloads:
                if payload == b"[DONE]":
                    done = True
                    break
                try:
                    # undecodable bytes become U+FFFD, as a text decoder would make them
                    chunk = json.loads(payload.decode("utf-8", "replace"))
                except ValueError:
                    chunk = None
                if not isinstance(chunk, dict):
                    out.append(
                        _sse(error_body("upstream_invalid", "The upstream stream is not valid."))
                    )
                    yield b"".join(out)
                    return
                last = chunk
                if relay.rewrite(chunk):
                    out.append(_sse(chunk))
            if out:
                yield b"".join(out)
                out = []
            if done:
                break
        rest = relay.leftovers({k: v for k, v in last.items() if k != "choices"})
        if rest is not None:
            yield _sse(rest)
        yield _sse("[DONE]")
    except _Blocked as blocked:
        code = _blocked(blocked.result, "response").code
        _audit("guard.output", key, verdict="block", streamed=True,
               reasons=list(blocked.result.reasons))  # fmt: skip
        _record_block(sink, key, blocked.result, "output", None, streamed=True)
        error = error_body(code, "The response was blocked by Bastion guard.", "guard_block")
        yield b"".join([*out, _sse(error)])
    except (aiohttp.ClientError, TimeoutError):
        error = error_body("upstream_unavailable", "The upstream stream broke off.")
        yield b"".join([*out, _sse(error)])
    finally:
        upstream.release()


def create_app(config: ProxyConfig) -> Starlette:
    """The ASGI app; run it with any ASGI server (``bastion guard serve`` uses uvicorn)."""
    proxy = GuardProxy(config)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics(request: Request) -> Response:
        from bastion.monitoring.metrics import render_latest

        assert config.metrics is not None
        body, content_type = render_latest(config.metrics)
        return Response(body, media_type=content_type)

    routes = [
        Route("/v1/chat/completions", proxy.completions, methods=["POST"]),
        Route("/v1/completions", proxy.completions, methods=["POST"]),
        Route("/v1/embeddings", proxy.passthrough, methods=["POST"]),
        Route("/v1/models", proxy.passthrough, methods=["GET"]),
        Route("/v1/models/{model:path}", proxy.passthrough, methods=["GET"]),
        Route("/healthz", health, methods=["GET"]),
    ]
    if config.metrics is not None:
        routes.append(Route("/metrics", metrics, methods=["GET"]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await proxy.close()
        close = getattr(config.limiter, "close", None)
        if close is not None:
            await close()
        if config.extraction is not None:
            await config.extraction.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.proxy = proxy
    return app
