"""Retries with exact delays, dead-lettering after the last try, and the time limit."""

from __future__ import annotations

import json
from datetime import datetime

from tests.conftest import wait_for, wait_status


def _events(client, report_id):
    return client.get(f"/reports/{report_id}").get_json()["events"]


def test_two_failures_then_ready_with_exact_gaps(client, worker):
    report_id = client.post("/reports", json={"params": {"simulate": {"fail_times": 2}}}).get_json()["id"]
    final = wait_status(client, report_id, {"READY", "FAILED"}, timeout=40)
    assert final["status"] == "READY" and final["attempts"] == 3
    events = _events(client, report_id)
    failures = [e for e in events if e["kind"] == "attempt_failed"]
    claims = [e for e in events if e["kind"] == "claimed"]
    assert len(failures) == 2 and len(claims) == 3
    assert all("simulated failure" in f["detail"]["error"] and f["detail"]["traceback"] for f in failures)
    assert [f["message"] for f in failures] == ["retrying in 2 s", "retrying in 4 s"]
    # Each retry starts its delay after the moment its attempt failed (the worker's failed_at), never before.
    failed_at = [datetime.fromisoformat(f["detail"]["failed_at"]) for f in failures]
    gaps = [(datetime.fromisoformat(claims[i + 1]["created_at"]) - failed_at[i]).total_seconds() for i in range(2)]
    assert 2.0 <= gaps[0] <= 2.2 and 4.0 <= gaps[1] <= 4.4, gaps


def test_a_retry_is_due_its_delay_after_the_failure_not_after_the_bookkeeping(app, redis_client):
    import time
    import uuid

    import dramatiq

    from reportsvc.tasks import generate_report
    from reportsvc.worker.broker import ExactRetries, note_failure

    broker = dramatiq.get_broker()
    policy = next(m for m in broker.middleware if isinstance(m, ExactRetries))
    etas = {}
    for slow_bookkeeping_ms in (0, 700):
        message = dramatiq.MessageProxy(generate_report.message(str(uuid.uuid4())))
        failed_ms = int(time.time() * 1000)
        note_failure(message.message_id, failed_ms)
        time.sleep(slow_bookkeeping_ms / 1000)  # timeline, log capture, heartbeat stop after the failure
        policy.after_process_message(broker, message, exception=RuntimeError("simulated failure"))
        stored = [json.loads(body) for body in redis_client.hvals("dramatiq:reports.DQ.msgs")]
        [retry] = [m for m in stored if m["message_id"] == message.message_id]
        etas[slow_bookkeeping_ms] = retry["options"]["eta"] - failed_ms
    # Due at failure + 2 s either way (to the millisecond: the two clock reads may straddle one tick).
    assert all(abs(gap - 2000) <= 1 for gap in etas.values()), etas


def test_retries_exhausted_ends_failed_and_dead_lettered(client, worker, settings, redis_client):
    settings(retry_delays_ms=(100, 200, 300))
    report_id = client.post("/reports", json={"params": {"simulate": {"fail_times": 9}}}).get_json()["id"]
    final = wait_status(client, report_id, {"FAILED", "READY"}, timeout=30)
    assert final["status"] == "FAILED"
    assert final["attempts"] == 4
    assert "simulated failure" in final["error_message"]
    message_id = client.get(f"/reports/{report_id}").get_json()["message_id"]
    def dead_message_ids():
        redis_ids = redis_client.zrange("dramatiq:reports.XQ", 0, -1)
        bodies = redis_client.hmget("dramatiq:reports.XQ.msgs", redis_ids) if redis_ids else []
        return [json.loads(b)["message_id"] for b in bodies if b]

    assert wait_for(lambda: message_id in dead_message_ids(), timeout=10)
    failures = [e for e in _events(client, report_id) if e["kind"] == "attempt_failed"]
    assert len(failures) == 4 and failures[-1]["to_status"] == "FAILED"


def test_hang_exceeds_time_limit_and_is_retried(client, worker, settings):
    settings(retry_delays_ms=(100,), report_max_retries=1, report_time_limit_seconds=1)
    report_id = client.post("/reports", json={"params": {"simulate": {"hang": True}}}).get_json()["id"]
    final = wait_status(client, report_id, {"FAILED", "READY"}, timeout=30)
    assert final["status"] == "FAILED"
    assert final["attempts"] == 2
    assert "time limit exceeded" in final["error_message"]


def test_sleep_seconds_shows_progress_rising(client, worker):
    report_id = client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 2}}}).get_json()["id"]
    seen = []
    final = wait_status(client, report_id, {"RUNNING"}, timeout=10)
    while final["status"] == "RUNNING":
        seen.append(final["progress"])
        final = client.get(f"/reports/{report_id}/status").get_json()
    assert final["status"] == "READY"
    assert len(set(seen)) >= 3 and seen == sorted(seen)


def test_duplicate_message_never_renders_twice(client, worker):
    from reportsvc.tasks import generate_report

    report_id = client.post("/reports").get_json()["id"]
    wait_status(client, report_id, {"READY"})
    generate_report.send(report_id)
    worker.join()
    events = _events(client, report_id)
    assert [e["kind"] for e in events].count("completed") == 1
    assert [e["kind"] for e in events].count("claimed") == 1


def test_api_responses_carry_no_stack_traces(client, worker, settings):
    settings(retry_delays_ms=(100, 200, 300))
    report_id = client.post("/reports", json={"params": {"simulate": {"fail_times": 9}}}).get_json()["id"]
    wait_status(client, report_id, {"FAILED"}, timeout=30)
    body = client.get(f"/reports/{report_id}").get_data(as_text=True)
    assert "Traceback (most recent call last)" not in body and "attempt_failed" in body
    message_id = client.get(f"/reports/{report_id}").get_json()["message_id"]
    wait_for(lambda: client.get("/queues/reports/dead").get_json()["items"], timeout=10)
    detail = client.get(f"/queues/reports/messages/{message_id}")
    assert detail.status_code == 200
    assert "Traceback (most recent call last)" not in detail.get_data(as_text=True)
    listing = client.get("/queues/reports/dead").get_data(as_text=True)
    assert "Traceback (most recent call last)" not in listing
