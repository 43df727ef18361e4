"""Schemathesis against the server's own OpenAPI description: generated requests to every
route, as an admin and with no credentials. No request may cause a server error, and
none but ``/healthz`` may be answered without authentication."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from bastion.monitoring.metrics import Metrics
from bastion.server import ServerState, create_app
from bastion.server.routes_auth import LOGIN_PATH

from .conftest import Env, make_env

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    env = make_env(f"sqlite:///{tmp / 'b.db'}", tmp / "data")
    with env.client:
        yield env
    env.state.engine.dispose()


def _spec() -> dict[str, Any]:
    """The OpenAPI description: it depends on the routes only, not on a server's state."""
    parts = dict.fromkeys(("engine", "registry", "audit", "identity", "audit_verifier", "sso"))
    stub = cast(ServerState, SimpleNamespace(metrics=Metrics(), **parts))
    return create_app(stub).openapi()


schema = schemathesis.openapi.from_dict(_spec())


@schema.parametrize()
@SETTINGS
def test_no_request_causes_a_server_error(case: Any, fuzz_env: Env) -> None:
    response = case.call(app=fuzz_env.client.app, headers=fuzz_env.headers())
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])


@schema.parametrize()
@SETTINGS
def test_nothing_answers_without_credentials(case: Any, fuzz_env: Env) -> None:
    response = case.call(app=fuzz_env.client.app)
    documented = case.method.lower() in schema.raw_schema["paths"][case.path]
    if case.path in ("/healthz", LOGIN_PATH) and not documented:  # other methods
        assert response.status_code == 405
    elif case.path == "/healthz":
        assert response.status_code == 200
    elif case.path == LOGIN_PATH:  # public: the way to get credentials, never without them
        # 400: a body that does not parse at all (FastAPI's own answer); 422: one that
        # parses but is not a login; 401: wrong credentials; 429: throttled
        assert response.status_code in (400, 401, 422, 429), response.text
        assert "bss_" not in response.text
    else:  # refused before routing: nothing, not even a 405 or a 422, answers without them
        assert response.status_code == 401, (case.method, case.formatted_path)
        assert response.json()["error"] == "AuthenticationError"
