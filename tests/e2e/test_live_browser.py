"""Live updates in a real browser: pushed through the event stream, and polled when the stream is blocked."""

from __future__ import annotations

from dataclasses import replace

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _badge(page, title: str):  # type: ignore[no-untyped-def]
    return page.locator("#report-rows tr", has=page.locator(".title-link", has_text=title)).locator(".badge")


def test_report_created_elsewhere_appears_and_turns_ready_by_push(page, client, settings, base_settings,
                                                                   make_worker) -> None:  # type: ignore[no-untyped-def]
    # Polling once an hour: anything that changes on this page within the test came through the stream.
    settings(push=replace(base_settings.push, console_poll_seconds=3600))
    page.goto("/console/")
    assert page.locator("body").get_attribute("data-poll-ms") == "3600000"
    page.wait_for_selector("body[data-live=push]")
    page.evaluate("window.__noReload = true")
    client.post("/reports", json={"title": "Pushed from elsewhere"})  # another session: the API
    badge = _badge(page, "Pushed from elsewhere")
    badge.wait_for(timeout=10_000)
    assert badge.get_attribute("data-status") == "PENDING"
    make_worker()
    page.wait_for_selector("#report-rows tr[data-status=READY]", timeout=20_000)
    assert _badge(page, "Pushed from elsewhere").get_attribute("data-status") == "READY"
    # The tab counts follow the same events: READY 1, PENDING 0, without a poll.
    expect(page.locator("#count-READY")).to_have_text("1", timeout=10_000)
    expect(page.locator("#count-PENDING")).to_have_text("0", timeout=10_000)
    assert page.evaluate("window.__noReload") is True


def test_page_still_updates_by_polling_when_the_stream_is_blocked(page, client, make_worker) -> None:  # type: ignore[no-untyped-def]
    page.route("**/console/events", lambda route: route.abort())
    client.post("/reports", json={"title": "Polled along"})
    page.goto("/console/")
    badge = _badge(page, "Polled along")
    assert badge.get_attribute("data-status") == "PENDING"
    make_worker()
    page.wait_for_selector("#report-rows tr[data-status=READY]", timeout=20_000)
    assert page.locator("body").get_attribute("data-live") != "push"
    expect(page.locator("#count-READY")).to_have_text("1", timeout=10_000)
