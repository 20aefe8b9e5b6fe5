"""Pause and resume a queue: API, console, CLI, audit, the worker holding messages, status note, metrics."""

from __future__ import annotations

import time

from sqlalchemy import text

from tests.conftest import wait_for, wait_status


def _queue(client, name="reports"):  # type: ignore[no-untyped-def]
    return next(q for q in client.get("/queues").get_json()["queues"] if q["name"] == name)


def _audit(app, action):  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    with app.app_context():
        rows = db.session.execute(text("SELECT actor, outcome, detail FROM audit_log WHERE action = :a ORDER BY id"),
                                  {"a": action}).all()
        db.session.rollback()
    return [(r.actor, r.outcome, r.detail.get("via")) for r in rows]


def test_pause_and_resume_over_the_api_show_on_get_queues_and_are_audited(app, client):
    assert _queue(client)["paused"] is False
    first = client.post("/queues/reports/pause", headers={"X-Requested-By": "alice"})
    assert first.status_code == 200
    body = first.get_json()
    assert body["queue"] == "reports" and body["changed"] is True and body["paused"] is True
    assert body["paused_by"] == "alice" and body["paused_since"]
    again = client.post("/queues/reports/pause", headers={"X-Requested-By": "bob"}).get_json()
    assert again["changed"] is False and again["paused_by"] == "alice"  # the first pause keeps its time and actor
    listed = _queue(client)
    assert listed["paused"] is True and listed["paused_by"] == "alice"
    assert _queue(client, "notifications")["paused"] is False
    resumed = client.post("/queues/reports/resume").get_json()
    assert resumed["changed"] is True and resumed["paused"] is False and resumed["paused_since"] is None
    assert client.post("/queues/reports/resume").get_json()["changed"] is False
    assert _queue(client)["paused"] is False
    assert _audit(app, "queue.pause") == [("alice", "ok", "api"), ("bob", "noop", "api")]
    assert _audit(app, "queue.resume") == [("test-operator", "ok", "api"), ("test-operator", "noop", "api")]


def test_viewer_is_refused_and_bad_names_are_4xx_changing_nothing(app, client, viewer_client):
    refused = viewer_client.post("/queues/reports/pause")
    assert refused.status_code == 403 and refused.get_json()["error"]["code"]
    unknown = client.post("/queues/no-such-queue/pause")
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "unknown_queue"
    bad = client.post("/queues/bad%20name!/pause")
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_queue"
    assert _queue(client)["paused"] is False and _audit(app, "queue.pause") == []


def test_paused_queue_holds_reports_pending_with_no_attempt_then_resume_runs_each_once(client, worker):
    client.post("/queues/reports/pause")
    ids = [client.post("/reports", json={}).get_json()["id"] for _ in range(5)]
    time.sleep(3)  # three hold cycles
    for rid in ids:
        status = client.get(f"/reports/{rid}/status").get_json()
        assert status["status"] == "PENDING" and status["attempts"] == 0
        assert status["queue_paused"] is True and status["note"].startswith("queue paused: reports")
        kinds = [e["kind"] for e in client.get(f"/reports/{rid}").get_json()["events"]]
        assert kinds == ["created"]
    counts = _queue(client)
    # Still visible, just not started (a message being put back is briefly both held and delayed).
    assert counts["waiting"] + counts["delayed"] + counts["held"] >= 5
    resumed_at = time.monotonic()
    client.post("/queues/reports/resume")
    for rid in ids:
        final = wait_status(client, rid, {"READY", "FAILED"}, timeout=15)
        assert final["status"] == "READY" and final["attempts"] == 1 and final["queue_paused"] is False
        kinds = [e["kind"] for e in client.get(f"/reports/{rid}").get_json()["events"]]
        assert kinds.count("claimed") == 1 and kinds.count("completed") == 1
    assert time.monotonic() - resumed_at < 10  # each held message comes round within ~1 s; slack for a loaded host


def test_other_queues_keep_running_while_one_is_paused(client, worker):
    client.post("/queues/notifications/pause")
    rid = client.post("/reports", json={}).get_json()["id"]
    assert wait_status(client, rid, {"READY"}, timeout=10)["queue_paused"] is False


def test_pause_survives_a_redis_flush_the_mirror_is_rebuilt_from_postgresql(app, client, redis_client, worker):
    from reportsvc.ops import pauses
    from reportsvc.queues.pauses import MIRROR_KEY

    client.post("/queues/reports/pause")
    redis_client.flushall()  # Redis restarted empty: the mirror and every message are gone
    pauses.forget_cache()
    rid = client.post("/reports", json={}).get_json()["id"]
    time.sleep(2.5)
    status = client.get(f"/reports/{rid}/status").get_json()
    assert status["status"] == "PENDING" and status["attempts"] == 0 and status["queue_paused"] is True
    assert redis_client.hexists(MIRROR_KEY, "reports")


def test_reconciler_leaves_a_paused_queue_alone_and_resends_after_resume(app, client, redis_client, settings):
    from reportsvc.ops import pauses, sweeper

    current = settings(reconcile_grace_seconds=0.0)
    rid = client.post("/reports", json={}).get_json()["id"]
    client.post("/queues/reports/pause")
    redis_client.flushall()  # the message is gone
    pauses.forget_cache()
    with app.app_context():
        held = sweeper.reconcile_orphans(redis_client, current)
        assert held.requeued == [] and held.skipped == 1
    client.post("/queues/reports/resume")
    with app.app_context():
        sent = sweeper.reconcile_orphans(redis_client, current)
    assert sent.requeued == [rid]


def test_metrics_has_a_paused_gauge_per_queue(client, admin_client):
    from reportsvc.metrics import collector

    client.post("/queues/reports/pause")
    collector.reset_cache()
    text_ = admin_client.get("/metrics").get_data(as_text=True)
    assert 'reportsvc_queue_paused{queue="reports"} 1.0' in text_
    assert 'reportsvc_queue_paused{queue="notifications"} 0.0' in text_


def test_cli_pauses_lists_and_resumes_with_audit(app, client):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["queues", "pause", "reports"])
    assert out.exit_code == 0 and out.output.strip() == "paused reports"
    assert _queue(client)["paused"] is True and _queue(client)["paused_by"] == "cli"
    listed = runner.invoke(args=["queues", "paused"])
    assert "reports" in listed.output and "by cli" in listed.output
    assert runner.invoke(args=["queues", "resume", "reports"]).output.strip() == "resumed reports"
    bad = runner.invoke(args=["queues", "pause", "nope"])
    assert bad.exit_code != 0 and "no queue named" in bad.output
    assert _audit(app, "queue.pause") == [("cli", "ok", "cli")]
    assert _audit(app, "queue.resume") == [("cli", "ok", "cli")]


def test_console_queues_page_pauses_with_a_badge_and_viewers_see_no_button(app, client, viewer_client):
    page = client.get("/console/queues").get_data(as_text=True)
    assert 'id="pause-reports"' in page
    assert 'id="pause-reports"' not in viewer_client.get("/console/queues").get_data(as_text=True)
    assert viewer_client.post("/console/queues/reports/pause").status_code == 403
    assert client.post("/console/queues/reports/pause").status_code == 303
    page = client.get("/console/queues").get_data(as_text=True)
    assert 'id="paused-reports"' in page and "by test-operator" in page and 'id="resume-reports"' in page
    rid = client.post("/reports", json={}).get_json()["id"]
    detail = client.get(f"/console/reports/{rid}").get_data(as_text=True)
    assert 'id="queue-paused-note"' in detail
    assert client.post("/console/queues/reports/resume").status_code == 303
    assert _audit(app, "queue.pause") == [("test-operator", "ok", "console")]
    wait_for(lambda: 'id="pause-reports"' in client.get("/console/queues").get_data(as_text=True), timeout=3)
