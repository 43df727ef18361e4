"""Headless Chromium (Debian's ``chromium``) driven by Playwright against a real server over TLS.

Locally the browser tests skip when Chromium or Playwright is missing; under CI
(``CI=true``) they fail instead, so a CI image without a browser cannot pass silently.
Screenshots of the main pages go to ``docs/console/`` when ``BASTION_UPDATE_SCREENSHOTS=1``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bastion.client import Client
from tests.console.conftest import PASSWORD, Site, make_site
from tests.server.conftest import _serve

CHROMIUM = os.environ.get("BASTION_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "console"


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI needs it: .ci/run installs chromium and playwright)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        _missing(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed")
    with sync_playwright() as p:
        yield p


@dataclass
class LiveSite:
    site: Site
    url: str
    admin: Client

    def console(self, path: str = "/") -> str:
        return f"{self.url}/console{path}"


@pytest.fixture
def live_site(tmp_path: Path) -> Iterator[LiveSite]:
    site = make_site(f"sqlite:///{tmp_path / 'b.db'}", tmp_path / "data")
    try:
        for url in _serve(site.state, site.paths):
            admin = Client(url, site.admin_token, ca_cert=site.paths.cert)
            try:
                yield LiveSite(site, url, admin)
            finally:
                admin.close()
    finally:
        site.log.close()
        site.state.engine.dispose()


@pytest.fixture
def browser(playwright: Any, tmp_path: Path) -> Iterator[Any]:
    """A fresh Chromium profile; confirm() dialogs are accepted."""
    executable = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=executable,
        headless=True,
        args=ARGS,
        ignore_https_errors=True,  # the server's self-signed certificate
        viewport={"width": 1280, "height": 860},
    )
    context.set_default_timeout(10_000)
    context.on("page", lambda page: page.on("dialog", lambda dialog: dialog.accept()))
    try:
        yield context
    finally:
        context.close()


def screenshot(page: Any, name: str) -> None:
    """Write docs/console/NAME.png, only when asked (BASTION_UPDATE_SCREENSHOTS=1)."""
    if os.environ.get("BASTION_UPDATE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def log_in(page: Any, live: LiveSite, name: str) -> None:
    """The login as a person does it: name and password, then the app's code (pyotp)."""
    page.goto(live.console("/"))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Code from your authenticator app").fill(
        live.site.code(live.site.secrets[name])
    )
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Namespaces").wait_for()
