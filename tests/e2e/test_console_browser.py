"""The console in a real browser (Playwright + Debian Chromium) against a real HTTP server and worker."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _row(page, title: str):  # type: ignore[no-untyped-def]
    return page.locator("#report-rows tr", has=page.locator(".title-link", has_text=title))


def test_generate_watch_live_and_download(page, worker, shoot, settings) -> None:  # type: ignore[no-untyped-def]
    page.goto("/console/")
    shoot(page, "reports-empty")
    page.locator("#generate > summary").click()
    page.locator("#generate-form").get_by_label("Title").fill("Browser generated")
    page.get_by_label("Window (hours)").fill("12")
    page.get_by_text("Fault injection (testing only)").click()
    page.get_by_label("Sleep seconds per attempt").fill("2.5")  # slow enough to see RUNNING
    shoot(page, "reports-form")
    page.get_by_role("button", name="Queue report").click()
    page.get_by_text("queued").first.wait_for()
    row = _row(page, "Browser generated")
    badge = row.locator(".badge")
    seen: set[str] = set()
    # The page is never reloaded: the row changes in place through the live poll.
    page.evaluate("window.__noReload = true")
    for _ in range(200):
        status = badge.get_attribute("data-status", timeout=5000)
        seen.add(status)
        if status == "READY":
            break
        page.wait_for_timeout(100)
    assert page.evaluate("window.__noReload") is True
    assert "READY" in seen and "RUNNING" in seen, seen
    assert row.get_attribute("data-live") is None  # finished rows stop polling
    shoot(page, "reports-list")
    with page.expect_download() as download:
        row.get_by_role("link", name=re.compile("Download")).click()
    assert download.value.suggested_filename.endswith(".pdf")
    row.locator(".title-link").click()
    page.get_by_role("heading", name="Timeline").wait_for()
    assert page.locator("[data-kind=completed]").count() == 1
    shoot(page, "report-detail-ready")


def test_cancel_one(page, client, shoot) -> None:  # type: ignore[no-untyped-def]
    # no worker: it stays PENDING until cancelled
    client.post("/reports", json={"title": "Cancel me"})
    page.goto("/console/")
    row = _row(page, "Cancel me")
    assert row.locator(".badge").get_attribute("data-status") == "PENDING"
    page.once("dialog", lambda dialog: dialog.accept())  # destructive: asks first
    row.get_by_role("button", name="Cancel").click()
    page.wait_for_selector("#report-rows tr[data-status=CANCELLED]")
    # The pushed event can turn the row before the POST's own answer (with the flash) lands: wait for it.
    expect(page.locator("#flashes")).to_contain_text("cancelled")
    assert row.get_by_role("button", name="Cancel").count() == 0


def test_refused_cancel_explains(page, client, app) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from reportsvc.extensions import db
    from reportsvc.state.models import ReportRequest

    rid = client.post("/reports", json={"title": "Too late"}).get_json()["id"]
    page.goto(f"/console/reports/{rid}")
    # Hold the detail's live poll so the Cancel button is still on screen when the worker has finished: the
    # operator clicks what they saw a moment ago.
    detail_url = f"**/console/reports/{rid}"
    page.route(detail_url, lambda route: route.abort())
    with app.app_context():  # a worker finishes it while the operator looks at the page
        db.session.execute(update(ReportRequest).where(ReportRequest.id == rid).values(status="READY"))
        db.session.commit()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#cancel-detail-{rid}").click()
    page.wait_for_selector(".flash--error")
    assert "it is READY now" in page.locator("#flashes").inner_text()
    page.unroute(detail_url)
    page.wait_for_selector("#report-detail[data-status=READY]")
    with app.app_context():
        assert db.session.get(ReportRequest, rid).status == "READY"  # the refused cancel changed nothing


def test_cancel_a_running_report_shows_cancelling_then_cancelled(page, client, worker) -> None:  # type: ignore[no-untyped-def]
    rid = client.post("/reports", json={"title": "Sixty seconds",
                                        "params": {"simulate": {"sleep_seconds": 60}}}).get_json()["id"]
    page.goto(f"/console/reports/{rid}")
    page.wait_for_selector("#report-detail[data-status=RUNNING]", timeout=20_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#cancel-detail-{rid}").click()
    page.wait_for_selector(".flash--success")
    assert "Cancelling" in page.locator("#flashes").inner_text()
    page.wait_for_selector("#report-detail[data-status=CANCELLED]", timeout=10_000)
    assert page.locator("[data-kind=cancelled]").count() == 1
    assert page.locator(f"#download-detail-{rid}").count() == 0


def test_retry_failed_from_detail(page, client, worker, settings, shoot) -> None:  # type: ignore[no-untyped-def]
    settings(retry_delays_ms=(100, 200, 300))
    rid = client.post("/reports", json={"title": "Flaky", "params": {"simulate": {"fail_times": 4}}}).get_json()["id"]
    page.goto(f"/console/reports/{rid}")
    page.wait_for_selector("#report-detail[data-status=FAILED]", timeout=30_000)
    assert page.locator("[data-kind=attempt_failed]").count() == 4
    page.locator("[data-kind=attempt_failed] summary", has_text="Traceback").first.click()
    shoot(page, "report-detail-failed")
    page.get_by_role("button", name=re.compile("Retry")).click()
    page.wait_for_selector(".flash--success")
    page.wait_for_selector("#report-detail[data-status=READY]", timeout=30_000)
    assert page.locator("[data-kind=retried]").count() == 1


def test_search_and_filter_survive_reload(page, client, shoot) -> None:  # type: ignore[no-untyped-def]
    for title in ("Alpha weekly", "Alpha monthly", "Beta weekly"):
        client.post("/reports", json={"title": title})
    beta = client.get("/reports?q=beta").get_json()["items"][0]["id"]
    client.delete(f"/reports/{beta}")
    page.goto("/console/")
    page.get_by_label("Search by title or id prefix").fill("alpha")
    page.wait_for_url(re.compile(r"q=alpha"))
    page.wait_for_function("document.querySelectorAll('#report-rows tr').length === 2")
    page.locator("[data-tab=CANCELLED]").click()
    page.wait_for_url(re.compile(r"status=CANCELLED"))
    page.get_by_text("No reports match").wait_for()
    page.locator("[data-tab=PENDING]").click()
    page.wait_for_url(re.compile(r"status=PENDING"))
    assert "q=alpha" in page.url
    page.reload()
    assert page.get_by_label("Search by title or id prefix").input_value() == "alpha"
    assert page.locator("#report-rows tr").count() == 2
    assert page.locator("[data-tab=PENDING]").get_attribute("aria-current") == "page"
    shoot(page, "reports-filtered")


def test_error_pages_look_like_the_console(page, shoot) -> None:  # type: ignore[no-untyped-def]
    response = page.goto("/console/reports/00000000-0000-0000-0000-000000000000")
    assert response.status == 404
    assert page.locator(".site-header").count() == 1
    shoot(page, "not-found")
