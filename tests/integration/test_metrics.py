"""GET /metrics: counters move when reports run, gauges read the queues, logs carry job ids."""

from __future__ import annotations

import json
import logging
import re
import time

from prometheus_client.parser import text_string_to_metric_families

from reportsvc import metrics
from tests.conftest import wait_for, wait_status


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    metrics.reset_cache()
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_exist_before_anything_ran(client):
    samples = scrape(client)
    names = {name for name, _ in samples}
    for name in ("reportsvc_queue_messages", "reportsvc_queue_oldest_waiting_age_seconds", "reportsvc_workers_alive",
                 "reportsvc_reports", "reportsvc_oldest_pending_age_seconds"):
        assert name in names, name
    assert value(samples, "reportsvc_queue_messages", queue="reports", state="waiting") == 0
    assert value(samples, "reportsvc_reports", status="PENDING") == 0


def test_counters_and_gauges_move_when_reports_run(client, make_worker, settings):
    settings(retry_delays_ms=(50, 50, 50), report_max_retries=1)
    t = "operations"
    # Queued with no worker yet: the queue gauges and the PENDING gauge show them.
    first_post = time.monotonic()
    ok = [client.post("/reports").get_json()["id"] for _ in range(3)]
    bad = client.post("/reports", json={"params": {"simulate": {"fail_times": 5}}}).get_json()["id"]
    gone = client.post("/reports").get_json()["id"]
    assert client.delete(f"/reports/{gone}").status_code == 200
    time.sleep(0.3)  # the head of the waiting list is at least this old when scraped
    samples = scrape(client)
    age_bound = time.monotonic() - first_post + 0.05
    assert value(samples, "reportsvc_reports_created_total", report_type=t) == 5
    assert value(samples, "reportsvc_reports_cancelled_total", report_type=t) == 1
    assert value(samples, "reportsvc_queue_messages", queue="reports", state="waiting") == 4
    assert value(samples, "reportsvc_reports", status="PENDING") == 4
    assert 0.3 <= value(samples, "reportsvc_queue_oldest_waiting_age_seconds", queue="reports") <= age_bound
    assert value(samples, "reportsvc_oldest_pending_age_seconds") > 0

    make_worker()
    for rid in ok:
        assert wait_status(client, rid, {"READY", "FAILED"})["status"] == "READY"
    assert wait_status(client, bad, {"READY", "FAILED"})["status"] == "FAILED"

    def settled():
        s = scrape(client)
        return s if value(s, "reportsvc_reports_failed_total", report_type=t) == 1 and value(
            s, "reportsvc_reports_completed_total", report_type=t) == 3 else None

    samples = wait_for(settled, timeout=10)
    assert value(samples, "reportsvc_report_attempts_total", report_type=t) == 5  # 3 + 2 tries of the bad one
    assert value(samples, "reportsvc_report_attempts_failed_total", report_type=t) == 2
    assert value(samples, "reportsvc_report_duration_seconds_count", report_type=t, outcome="ready") == 3
    assert value(samples, "reportsvc_report_duration_seconds_count", report_type=t, outcome="failed") == 2
    assert value(samples, "reportsvc_report_duration_seconds_bucket", report_type=t, outcome="ready", le="+Inf") == 3
    assert value(samples, "reportsvc_report_duration_seconds_sum", report_type=t, outcome="ready") > 0
    assert value(samples, "reportsvc_report_queue_wait_seconds_count") == 5
    assert value(samples, "reportsvc_workers_alive") >= 1
    assert value(samples, "reportsvc_reports", status="PENDING") == 0
    assert value(samples, "reportsvc_queue_messages", queue="reports", state="waiting") == 0
    assert value(samples, "reportsvc_queue_messages", queue="reports", state="dead") == 1


def test_histogram_buckets_are_cumulative(client):
    metrics.observe("report_duration_seconds", 0.07, {"report_type": "x", "outcome": "ready"})
    metrics.observe("report_duration_seconds", 3.0, {"report_type": "x", "outcome": "ready"})
    samples = scrape(client)
    b = {le: value(samples, "reportsvc_report_duration_seconds_bucket", report_type="x", outcome="ready", le=le)
         for le in ("0.05", "0.1", "2.5", "5.0", "+Inf")}
    assert b == {"0.05": 0, "0.1": 1, "2.5": 1, "5.0": 2, "+Inf": 2}


def test_rolled_back_transition_counts_nothing(app, client):
    from reportsvc.extensions import db
    from reportsvc.state import lifecycle
    from reportsvc.state.lifecycle import _common  # the event helper every transition writes through

    with app.app_context():
        report = lifecycle.create(report_type="operations", title=None, params={}, notify_email=None,
                                  requested_by=None)
        # A note whose transaction rolls back must not count.
        session = db.session()
        _common._event(session, report.id, "email_sent", message="never committed")
        session.rollback()
    samples = scrape(client)
    assert value(samples, "reportsvc_reports_created_total", report_type="operations") == 1
    assert value(samples, "reportsvc_emails_sent_total") == 0


def test_job_log_lines_carry_report_and_message_id():
    from reportsvc.logs import JobIdsFormatter, JsonFormatter, TextFormatter, clear_job_context, set_job_context

    record = logging.LogRecord("reportsvc.worker", logging.INFO, __file__, 1, "Job %s active", ("r-1",), None)
    set_job_context(report_id="r-1", message_id="m-1")
    try:
        payload = json.loads(JsonFormatter().format(record))
        text = TextFormatter().format(record)
        wrapped = JobIdsFormatter(logging.Formatter("%(process)d %(message)s")).format(record)
        other = logging.LogRecord("reportsvc.worker", logging.INFO, __file__, 1, "Phase 1", (), None)
        other_text = TextFormatter().format(other)
    finally:
        clear_job_context()
    assert payload["report_id"] == "r-1" and payload["message_id"] == "m-1" and payload["message"] == "Job r-1 active"
    assert text.endswith("Job r-1 active [message m-1]"), text
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO    reportsvc.worker: ", text)
    assert wrapped.endswith("Job r-1 active [message m-1]")
    assert other_text.endswith("Phase 1 [report r-1, message m-1]")
    outside = json.loads(JsonFormatter().format(record))
    assert "message_id" not in outside
