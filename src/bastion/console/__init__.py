"""The web console: server-rendered pages over the registry, identity and audit log.

    app.mount("/console", create_console(ConsoleDeps(engine, registry, audit, identity)))

Pages are Jinja2 templates (autoescaped) with one stylesheet and one small script, all
served from here; charts are SVG drawn on the server. :mod:`bastion.console._web` holds
the web security (cookies, CSRF, headers, the per-page permission declaration).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from bastion.auth.errors import PermissionDenied as IdentityDenied
from bastion.auth.rbac import PermissionDenied
from bastion.console import pages_admin, pages_audit, pages_auth, pages_models, pages_sso
from bastion.console._web import (
    STATIC_DIR,
    BadForm,
    CsrfRejected,
    LoginNeeded,
    Page,
    SecurityHeaders,
    base_path,
    render,
)
from bastion.console.base import ConsoleDeps, ModelRegistry, Viewer
from bastion.errors import BastionError

__all__ = [
    "PUBLIC_ROUTES",
    "ConsoleDeps",
    "ModelRegistry",
    "Page",
    "Viewer",
    "create_console",
    "page_permission",
]

PUBLIC_ROUTES = pages_auth.PUBLIC_ROUTES | pages_sso.PUBLIC_ROUTES

_STATUS: tuple[tuple[type[BastionError], int], ...] = (
    (PermissionDenied, 403),
    (IdentityDenied, 403),
    (CsrfRejected, 403),
    (BadForm, 400),
    (pages_sso.SsoUnavailable, 404),
)
_TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Conflict"}


def _error_page(request: Request, status: int, message: str, hint: str | None) -> Response:
    return render(
        request, "error.html", status_code=status, title=_TITLES.get(status, "Error"),
        message=message, hint=hint, csrf="",
    )  # fmt: skip


async def _bastion_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BastionError)
    if isinstance(exc, LoginNeeded):
        to = "/mfa/enrol" if exc.enrol else "/login"
        return RedirectResponse(base_path(request) + to, status_code=303)
    status = next((code for cls, code in _STATUS if isinstance(exc, cls)), None)
    if status is None:
        status = request.app.state.console.error_status(exc)
    return _error_page(request, status, exc.message, exc.hint)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "no such page" if exc.status_code == 404 else str(exc.detail)
    return _error_page(request, exc.status_code, message, "Use the links in the menu.")


async def _validation_error(request: Request, exc: Exception) -> Response:
    return _error_page(request, 400, "the request's parameters are not valid", None)


def page_permission(route: APIRoute) -> object | None:
    """The permission a console route declares through :class:`Page`, if any."""
    for dependency in route.dependant.dependencies:
        if isinstance(dependency.call, Page):
            return dependency.call.permission
    return None


def create_console(deps: ConsoleDeps) -> FastAPI:
    """The console as an ASGI app, to be mounted (at ``/console``) on the server's app."""
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.console = deps
    app.add_exception_handler(BastionError, _bastion_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_middleware(SecurityHeaders)
    routers = (pages_auth, pages_sso, pages_models, pages_admin, pages_audit)
    for module in routers:
        app.router.routes.extend(module.router.routes)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
