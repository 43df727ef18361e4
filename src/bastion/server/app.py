"""The ASGI app: the registry API, token and grant administration, a health check, and
the web console mounted at ``/console`` (``/`` sends browsers there).

Only ``/healthz`` and ``/`` answer without authentication (the console checks its own
session cookie on every page but the login); the OpenAPI description itself is
served to authenticated callers at ``/openapi.json``. Errors are JSON
``{"error", "message", "hint"}`` with one status code per error class.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from bastion import __version__
from bastion.auth.rbac import Permission, PermissionDenied
from bastion.auth.tokens import AuthenticationError
from bastion.console import ConsoleDeps, create_console
from bastion.errors import BastionError, IntegrityError
from bastion.monitoring.metrics import render_latest
from bastion.registry.errors import BadRequest, Conflict, NotFound, Quarantined, TooLarge
from bastion.server import routes_admin, routes_registry
from bastion.server.security import Caller, requires
from bastion.server.state import ServerState

#: Routes that need no credentials (everything else declares a permission).
PUBLIC_PATHS = frozenset({"/healthz", "/"})
#: Where the web console is mounted; its own routes declare their permissions.
CONSOLE_PATH = "/console"

_STATUS: tuple[tuple[type[BastionError], int], ...] = (
    (AuthenticationError, 401),
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
    return JSONResponse(
        {"error": type(exc).__name__, "message": exc.message, "hint": exc.hint},
        status_code=status,
        headers=headers,
    )


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
    # The routers' routes are added as they are (not wrapped by include_router), so the app's
    # route list is flat and a test can check each route's permission declaration.
    for router in (routes_registry.router, routes_admin.router):
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
