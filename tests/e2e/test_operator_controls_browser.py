"""Issue 17's acceptance in a real browser: pause a queue, watch reports wait, resume; read a failed report's Logs."""

from __future__ import annotations

import pytest

from tests.conftest import wait_status

pytestmark = pytest.mark.browser


def test_pause_in_the_console_reports_wait_with_no_attempt_then_resume_finishes_them(  # type: ignore[no-untyped-def]
        page, client, worker) -> None:
    page.goto("/console/queues")
    page.locator("#pause-reports").click()
    page.wait_for_selector("#paused-reports")
    assert "by e2e-operator" in page.locator("#paused-reports").inner_text().lower()  # the signed-in browser user
    ids = [client.post("/reports", json={"title": f"Waits {n}"}).get_json()["id"] for n in range(3)]
    page.wait_for_timeout(2500)  # two hold cycles of the worker
    page.goto(f"/console/reports/{ids[0]}")
    page.wait_for_selector("#queue-paused-note")
    assert page.locator("#report-detail").get_attribute("data-status") == "PENDING"
    for rid in ids:
        status = client.get(f"/reports/{rid}/status").get_json()
        assert status["status"] == "PENDING" and status["attempts"] == 0
    page.goto("/console/queues")
    page.locator("#resume-reports").click()
    page.wait_for_selector("#pause-reports")
    for rid in ids:
        assert wait_status(client, rid, {"READY", "FAILED"}, timeout=15)["attempts"] == 1
    page.goto(f"/console/reports/{ids[0]}")
    page.wait_for_selector("#report-detail[data-status=READY]")


def test_a_failed_reports_logs_tab_says_why_each_attempt_failed(  # type: ignore[no-untyped-def]
        page, client, worker, settings) -> None:
    settings(retry_delays_ms=(100,), report_max_retries=1)
    rid = client.post("/reports", json={"title": "Flaky", "params": {"simulate": {"fail_times": 5}}}).get_json()["id"]
    wait_status(client, rid, {"FAILED"}, timeout=20)
    page.goto(f"/console/reports/{rid}")
    page.locator("#tab-logs").click()
    page.wait_for_selector("#report-logs")
    page.wait_for_selector("tr[data-attempt='2']")
    failures = page.locator("tr[data-level=WARNING]", has_text="failed: simulated failure")
    assert failures.count() == 2
    failures.first.locator("summary", has_text="Traceback").click()
    assert "SimulatedFailure" in failures.first.locator("pre").inner_text()
    page.select_option("#log-attempt", "2")
    page.select_option("#log-level", "WARNING")
    page.locator("#log-filters button").click()
    page.wait_for_selector("#report-logs")
    rows = page.locator("#report-logs tbody tr")
    assert rows.count() >= 1
    assert all(a == "2" for a in rows.evaluate_all("rs => rs.map(r => r.dataset.attempt)"))
