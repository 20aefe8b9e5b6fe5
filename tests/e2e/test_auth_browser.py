"""Signing in and out in a real browser; a viewer sees no buttons that would change something (issue 6)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_sign_in_required_then_sign_out(browser, live_server, e2e_user) -> None:  # type: ignore[no-untyped-def]
    from tests.e2e.conftest import sign_in

    context = browser.new_context(base_url=live_server)
    try:
        pg = context.new_page()
        pg.goto("/console/queues")
        assert "/login?next=/console/queues" in pg.url
        pg.fill("#name", e2e_user[0])
        pg.fill("#password", "wrong password")
        pg.click("#login-form button[type=submit]")
        assert pg.locator(".flash--error").inner_text().strip() == "Wrong name or password."
        sign_in(pg, *e2e_user)
        pg.goto("/logout")
        with pg.expect_navigation():
            pg.click("form[action='/logout'] button[type=submit]")
        assert "/login" in pg.url
        pg.goto("/console/")
        assert "/login" in pg.url
    finally:
        context.close()
