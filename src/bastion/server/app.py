"""The ASGI app: the registry API, token and grant administration, a health check, and
the web console mounted at ``/console`` (``/`` sends browsers there).

Only ``/healthz`` and ``/`` answer without authentication (the console checks its own
session cookie on every page but the login); the OpenAPI description itself is
served to authenticated callers at ``/openapi.json``. Errors are JSON
``{"error", "message", "hint"}`` with one status code per error class.
"""

from __future__ import annotations

import re
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bastion import __version__
from bastion.audit import AuditEvent, Outcome
from bastion.auth.errors import (
    AuthenticationFailed,
    MfaRequired,
    PasswordRejected,
    Throttled,
    UserExists,
    UserNotFound,
)
from bastion.auth.errors import PermissionDenied as UserPermissionDenied
from bastion.auth.rbac import Permission, PermissionDenied
from bastion.auth.tokens import AuthenticationError
from bastion.console import ConsoleDeps, create_console
from bastion.errors import BastionError, IntegrityError
from bastion.monitoring.metrics import Metrics, render_latest
from bastion.registry.errors import BadRequest, Conflict, NotFound, Quarantined, TooLarge
from bastion.server import routes_admin, routes_auth, routes_registry, routes_users
from bastion.server.mtls import certificate_principal
from bastion.server.security import Caller, requires
from bastion.server.state import ServerState

#: Routes that need no credentials (everything else declares a permission).
PUBLIC_PATHS = frozenset({"/healthz", "/", routes_auth.LOGIN_PATH})
#: Where the web console is mounted; its own routes declare their permissions.
CONSOLE_PATH = "/console"

_STATUS: tuple[tuple[type[BastionError], int], ...] = (
    (AuthenticationError, 401),
    (AuthenticationFailed, 401),
    (MfaRequired, 401),
    (Throttled, 429),
    (UserPermissionDenied, 403),
    (UserNotFound, 404),
    (UserExists, 409),
    (PasswordRejected, 400),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Quarantined, 409),
    (TooLarge, 413),
    (BadRequest, 400),
    (IntegrityError, 500),
)


def _status(exc: BastionError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


async def _bastion_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BastionError)
    status = _status(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, Throttled):
        headers = {"Retry-After": str(max(1, round(exc.retry_after)))}
    return JSONResponse(
        {"error": type(exc).__name__, "message": exc.message, "hint": exc.hint},
        status_code=status,
        headers=headers,
    )


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestTimer:
    """ASGI middleware: each HTTP request's duration (to the end of its body) into the
    latency histogram, labelled by route template and method; both bounded, so a client
    cannot grow the label set (unknown paths are ``unmatched``, odd methods ``other``)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.request_latency.labels(route, method).observe(time.perf_counter() - start)


#: Request bodies other than file uploads (JSON and forms) are small; this caps them
#: before anything parses them, authentication included (FastAPI reads a body before it
#: resolves the route's dependencies). Uploads stream and have their own limit.
MAX_BODY = 1 << 20
_UPLOAD = re.compile(r"/v1/namespaces/[^/]+/uploads/[^/]+/files/")


class _BodyTooLarge(HTTPException):
    """Raised from ``receive``; an HTTPException so that FastAPI's body parsing lets it
    through (it turns other errors into a 400) to the handler :func:`create_app` sets."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is over {limit} bytes")


def _too_large_body(limit: int) -> dict[str, str]:
    return {
        "error": "TooLarge",
        "message": f"the request body is over {limit} bytes",
        "hint": "Only file uploads may be large; send JSON and form bodies under 1 MiB.",
    }


async def _body_too_large(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(_too_large_body(MAX_BODY), status_code=413)


class BodyLimit:
    """ASGI middleware: answer 413 to a non-upload request whose body exceeds ``limit``,
    by its Content-Length or, without one, as the body streams in."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _UPLOAD.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _BodyTooLarge(self.limit)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse(_too_large_body(self.limit), status_code=413)
        await response({"type": "http"}, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}


#: Paths whose routes authenticate (everything the API serves but PUBLIC_PATHS).
_AUTHENTICATED_PREFIXES = ("/v1/", "/metrics", "/openapi.json")
_NO_CREDENTIALS = "this route needs an API token: Authorization: Bearer <token>"


class CredentialsRequired:
    """ASGI middleware: a request to an authenticated route that carries no credentials at
    all (no Authorization header, no verified client certificate) is answered 401 before
    anything reads its body, so not even a malformed body tells it a route exists. Which
    credentials are valid, and what they may do, is still decided by each route's
    ``requires(...)`` dependency."""

    def __init__(self, app: ASGIApp, state: ServerState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or path in PUBLIC_PATHS
            or not path.startswith(_AUTHENTICATED_PREFIXES)
            or any(name == b"authorization" for name, _ in scope["headers"])
            or certificate_principal(scope.get("state")) is not None
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        self.state.audit.emit(
            AuditEvent(
                action="auth.token",
                actor="anonymous",
                outcome=Outcome.DENIED,
                resource=path,
                source=client[0] if client else None,
                reason=_NO_CREDENTIALS,
            )
        )
        error = AuthenticationError(_NO_CREDENTIALS)
        response = JSONResponse(
            {"error": "AuthenticationError", "message": error.message, "hint": error.hint},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, _no_receive, send)


def create_app(state: ServerState) -> FastAPI:
    """The app for one server; ``state`` holds its database, registry and audit sink."""
    app = FastAPI(
        title="Bastion",
        version=__version__,
        summary="Model registry: authenticated, least-privilege, encrypted at rest, scanned.",
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.bastion = state
    app.add_exception_handler(BastionError, _bastion_error)
    app.add_exception_handler(_BodyTooLarge, _body_too_large)
    app.add_middleware(BodyLimit)
    app.add_middleware(CredentialsRequired, state=state)
    app.add_middleware(RequestTimer, metrics=state.metrics)  # outermost: times the 413s too
    # The routers' routes are added as they are (not wrapped by include_router), so the app's
    # route list is flat and a test can check each route's permission declaration.
    routers = (routes_registry.router, routes_admin.router, routes_auth.router, routes_users.router)
    for router in routers:
        app.router.routes.extend(router.routes)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(CONSOLE_PATH + "/", status_code=303)

    @app.get("/healthz", summary="Liveness: no authentication", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/openapi.json", summary="This API's OpenAPI description", include_in_schema=False)
    def openapi(caller: Caller = requires(Permission.AUTHENTICATED)) -> dict[str, Any]:
        return app.openapi()

    @app.get("/metrics", summary="Prometheus metrics (auditors and admins)", tags=["monitoring"])
    def metrics(caller: Caller = requires(Permission.AUDIT_READ)) -> Response:
        body, content_type = render_latest(state.metrics)
        return Response(body, media_type=content_type)

    console = ConsoleDeps(
        state.engine,
        state.registry,
        state.audit,
        state.identity,
        state.audit_verifier,
        error_status=_status,
        sso=state.sso,
    )
    app.mount(CONSOLE_PATH, create_console(console), name="console")
    return app
