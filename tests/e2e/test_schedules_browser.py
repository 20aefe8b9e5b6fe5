"""Schedules in a real browser: create with the live preview, run now, watch the report turn READY."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_create_a_schedule_see_the_preview_run_it_now_and_watch_the_report_turn_ready(
        page, worker, shoot) -> None:  # type: ignore[no-untyped-def]
    page.goto("/console/schedules")
    page.get_by_role("link", name="New schedule").click()
    page.get_by_label("Name").fill("Browser weekly")
    cron_box = page.get_by_label("Cron")
    cron_box.fill("0 8")  # half typed: the preview says what is wrong
    page.locator("#preview-error").wait_for()
    assert "expected 5 fields" in page.locator("#preview-error").inner_text()
    cron_box.fill("30 2 * * 0")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    runs = page.locator("#schedule-preview li")
    runs.nth(4).wait_for()
    assert runs.count() == 5
    assert all(text.startswith("Sun ") for text in runs.all_inner_texts()), runs.all_inner_texts()
    page.get_by_label("Recipients").fill("a@example.com, b@example.com")
    page.get_by_label("Title").fill("Browser {date}")
    shoot(page, "schedule-form")
    page.get_by_role("button", name="Create schedule").click()
    page.get_by_role("heading", name="Browser weekly").wait_for()
    assert "every Sunday at 02:30 (Europe/Berlin)" in page.content()
    shoot(page, "schedule-detail")
    page.once("dialog", lambda dialog: dialog.accept())  # "Make one report from Browser weekly now?"
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url("**/console/reports/**")
    page.locator("#report-detail[data-status=READY]").wait_for(timeout=30_000)
    schedule_line = page.locator("#report-schedule").inner_text()
    assert "from schedule Browser weekly" in schedule_line and "run now" in schedule_line
    shoot(page, "schedule-report-ready")
    page.goto("/console/schedules")
    row = page.locator("#schedules tr[data-schedule='Browser weekly']")
    assert row.locator(".badge[data-status=READY]").count() == 1
    shoot(page, "schedules-list")
