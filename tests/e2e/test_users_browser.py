"""An admin creates an account on the console's Users page in a real browser."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.browser

E2E_ADMIN = "e2e-admin"
E2E_ADMIN_PASSWORD = "e2e admin browser password"


@pytest.fixture
def admin_page(browser, live_server, app, monkeypatch) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """Like the `page` fixture (CSRF on, CSP violations fail the test), signed in as an admin."""
    from reportsvc.state import accounts

    with app.app_context():
        if accounts.get_user(E2E_ADMIN) is None:
            accounts.create_user(E2E_ADMIN, "admin", E2E_ADMIN_PASSWORD)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    violations: list[str] = []
    pg.on("console", lambda msg: violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    sign_in(pg, E2E_ADMIN, E2E_ADMIN_PASSWORD)
    yield pg
    context.close()
    assert violations == [], violations


def test_admin_creates_a_user_and_sees_it_listed(admin_page, shoot) -> None:  # type: ignore[no-untyped-def]
    page = admin_page
    name = f"browser-{uuid.uuid4().hex[:6]}"
    page.goto("/console/")
    page.get_by_role("link", name="Users").click()
    page.get_by_role("heading", name="Users").wait_for()
    page.locator("#new-user > summary").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Role", exact=True).select_option("operator")
    page.get_by_role("button", name="Create user").click()
    secret = page.locator("#secret-value")
    secret.wait_for()
    assert len(secret.inner_text().strip()) >= 16  # the generated password, shown once
    row = page.locator(f"#user-rows tr[data-user='{name}']")
    row.wait_for()  # the list refreshed itself (userCreated) without a reload
    assert row.locator("[data-role]").get_attribute("data-role") == "operator"
    shoot(page, "users-created")
