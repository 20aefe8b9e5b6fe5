"""Browser fixtures: the session app behind a real HTTP server, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The app served by werkzeug in a thread on a free port; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="console-live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium (never `playwright install`); skips cleanly when it or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.skip("/usr/bin/chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


E2E_USER = "e2e-operator"
E2E_PASSWORD = "e2e browser password"


@pytest.fixture(scope="session")
def e2e_user(app) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """An operator account the browser signs in with (created once per session)."""
    from reportsvc.state import accounts

    with app.app_context():
        if accounts.get_user(E2E_USER) is None:
            accounts.create_user(E2E_USER, "operator", E2E_PASSWORD)
    return E2E_USER, E2E_PASSWORD


def sign_in(pg: Any, name: str, password: str) -> None:
    """Sign in through the real login page (CSRF token and all)."""
    pg.goto("/login")
    pg.fill("#name", name)
    pg.fill("#password", password)
    with pg.expect_navigation():
        pg.click("#login-form button[type=submit]")
    assert "/login" not in pg.url, "sign-in failed"


@pytest.fixture
def page(browser, live_server, e2e_user, app, monkeypatch) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """A fresh desktop-sized page, signed in as an operator, whose relative URLs go to the live server.

    CSRF is on for browser tests (the real thing: HTMX sends the token from <body hx-headers>), and any
    Content-Security-Policy violation the page reports fails the test."""
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 860}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    violations: list[str] = []
    pg.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    sign_in(pg, *e2e_user)
    yield pg
    context.close()
    assert violations == [], violations


@pytest.fixture
def shoot(browser, live_server):  # type: ignore[no-untyped-def]
    """shoot(page, name): save desktop (current) and phone-width (375 px) screenshots of the page's URL."""
    # caret="initial": Playwright would otherwise inject a <style> that the CSP (rightly) blocks.
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(pg: Any, name: str) -> None:
        pg.screenshot(path=str(SCREENSHOTS / f"{name}-desktop.png"), full_page=True, caret="initial")
        phone = browser.new_context(base_url=live_server, viewport={"width": 375, "height": 812},
                                    device_scale_factor=1, is_mobile=True, has_touch=True,
                                    storage_state=pg.context.storage_state())  # the same signed-in session
        try:
            p2 = phone.new_page()
            p2.goto(pg.url)
            p2.wait_for_load_state("load")  # not networkidle: the event stream stays open
            p2.wait_for_timeout(500)
            p2.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True, caret="initial")
            # nothing may be wider than the phone's screen
            overflow = p2.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, f"{name}: page is {overflow}px wider than a 375px phone screen"
        finally:
            phone.close()

    return take
