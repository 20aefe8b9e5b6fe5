"""Cancel a RUNNING report: 202 cancel_requested, the worker stops within the heartbeat, no PDF, no email."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime

from tests.conftest import wait_for, wait_status
from tests.integration.test_email import smtp  # noqa: F401  (the real SMTP server fixture)


def _events(client, report_id):  # type: ignore[no-untyped-def]
    return client.get(f"/reports/{report_id}").get_json()["events"]


def _pdfs(settings):  # type: ignore[no-untyped-def]
    """Every stored PDF, relative (a run stores <report_id>/<run_id>.pdf)."""
    return sorted(p.relative_to(settings.storage_dir).as_posix() for p in settings.storage_dir.rglob("*.pdf"))


def _running(client, report_id):  # type: ignore[no-untyped-def]
    return wait_for(lambda: (s := client.get(f"/reports/{report_id}/status").get_json())["status"] == "RUNNING"
                    and s["progress"] > 0 and s, timeout=20)


def test_cancel_during_long_render_ends_cancelled_within_heartbeat_no_file_no_email(
        client, worker, settings, smtp):  # noqa: F811
    controller, inbox = smtp
    current = settings(email_host="127.0.0.1", email_port=controller.port)
    report_id = client.post("/reports", json={"notify_email": "ops@example.com",
                                              "params": {"simulate": {"sleep_seconds": 60}}}).get_json()["id"]
    _running(client, report_id)
    response = client.delete(f"/reports/{report_id}")
    assert response.status_code == 202
    assert response.get_json() == {"id": report_id, "status": "RUNNING", "cancel_requested": True}
    assert client.get(f"/reports/{report_id}/status").get_json()["cancel_requested"] is True
    final = wait_status(client, report_id, {"CANCELLED", "READY", "FAILED"}, timeout=10)
    assert final["status"] == "CANCELLED"
    # Timed by the database's own clock, from the committed request to the CANCELLED write: the worker's
    # reaction, not this test's requests and polling (which a loaded machine can stretch past the slack).
    body = client.get(f"/reports/{report_id}").get_json()
    took = (datetime.fromisoformat(body["finished_at"])
            - datetime.fromisoformat(body["cancel_requested_at"])).total_seconds()
    assert 0 <= took <= current.heartbeat_interval_seconds + 0.5, took  # the bound plus a beat's own work
    assert final["attempts"] == 1 and final["download_url"] is None
    assert _pdfs(current) == []
    events = _events(client, report_id)
    kinds = [e["kind"] for e in events]
    assert kinds.count("cancel_requested") == 1 and kinds[-1] == "cancelled"
    cancelled = events[-1]
    assert cancelled["from_status"] == "RUNNING" and cancelled["to_status"] == "CANCELLED"
    assert "test-operator" in cancelled["message"] and cancelled["detail"]["requested_at"]
    time.sleep(1.0)  # an email, had one been queued, would have arrived by now
    assert inbox.messages == [] and not any(k.startswith("email") for k in kinds)


def test_repeat_cancel_of_a_running_report_is_202_and_records_one_request(client, worker):
    report_id = client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 30}}}).get_json()["id"]
    _running(client, report_id)
    first = client.delete(f"/reports/{report_id}", headers={"X-Requested-By": "alice"})
    second = client.delete(f"/reports/{report_id}", headers={"X-Requested-By": "bob"})
    assert (first.status_code, second.status_code) in ((202, 202), (202, 200))
    wait_status(client, report_id, {"CANCELLED"}, timeout=5)
    cancelled = _events(client, report_id)[-1]
    assert cancelled["kind"] == "cancelled" and "alice" in cancelled["message"]
    assert [e["kind"] for e in _events(client, report_id)].count("cancel_requested") == 1


def test_viewer_cannot_cancel_a_running_report(client, viewer_client, worker):
    report_id = client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 2}}}).get_json()["id"]
    _running(client, report_id)
    response = viewer_client.delete(f"/reports/{report_id}")
    assert response.status_code == 403 and response.get_json()["error"]["code"]
    assert client.get(f"/reports/{report_id}/status").get_json()["cancel_requested"] is False
    assert wait_status(client, report_id, {"READY", "CANCELLED"}, timeout=10)["status"] == "READY"


def test_cancel_of_a_finished_report_is_409_and_changes_nothing(client, worker):
    report_id = client.post("/reports", json={}).get_json()["id"]
    wait_status(client, report_id, {"READY"}, timeout=10)
    response = client.delete(f"/reports/{report_id}")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
    body = client.get(f"/reports/{report_id}").get_json()
    assert body["status"] == "READY" and body["cancel_requested_at"] is None


def test_cancel_racing_completion_ends_in_exactly_one_of_ready_or_cancelled(client, make_worker, settings):
    current = settings()
    make_worker(threads=4)
    ids = [client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 0.6}}}).get_json()["id"]
           for _ in range(12)]
    # Cancel each report at a different moment around its end: before, during and after the READY write.
    threads = []
    for n, rid in enumerate(ids):
        def fire(rid: str = rid, delay: float = 0.25 + n * 0.05) -> None:
            wait_for(lambda: client.get(f"/reports/{rid}/status").get_json()["status"] != "PENDING", timeout=20)
            time.sleep(delay)
            client.delete(f"/reports/{rid}")
        threads.append(threading.Thread(target=fire))
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    outcomes = {}
    for rid in ids:
        final = wait_status(client, rid, {"READY", "CANCELLED", "FAILED"}, timeout=20)
        kinds = [e["kind"] for e in _events(client, rid)]
        outcomes[rid] = final["status"]
        assert final["status"] in ("READY", "CANCELLED")
        assert kinds.count("completed") + kinds.count("cancelled") == 1, kinds
        assert any((current.storage_dir / rid).glob("*.pdf")) == (final["status"] == "READY")
    assert set(outcomes.values()) <= {"READY", "CANCELLED"}


def test_cancel_request_beats_finish_at_the_row(app, client):
    """The lifecycle alone: once the request is in, the claim's READY write matches nothing."""
    from reportsvc.state import lifecycle

    report_id = client.post("/reports", json={}).get_json()["id"]
    rid = uuid.UUID(report_id)
    with app.app_context():
        claim = lifecycle.claim(rid, worker="test:1", message_id=None)
        assert claim is not None
        assert lifecycle.cancel(rid, actor="tester").cancel_requested
        assert lifecycle.heartbeat(rid, claim.run_id) == "cancel"
        published = []
        assert not lifecycle.finish(rid, claim.run_id, publish=lambda: published.append(1) or ("k", 1))
        assert published == []
        assert lifecycle.cancel_running(rid, claim.run_id)
        assert lifecycle.current_status(rid) == "CANCELLED"


def test_cli_cancel_of_a_running_report_asks_it_to_stop_and_is_audited(app, client, worker):
    report_id = client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 30}}}).get_json()["id"]
    _running(client, report_id)
    result = app.test_cli_runner().invoke(args=["reports", "cancel", report_id])
    assert result.exit_code == 0 and "cancel requested" in result.output
    assert wait_status(client, report_id, {"CANCELLED"}, timeout=5)["status"] == "CANCELLED"
    again = app.test_cli_runner().invoke(args=["reports", "cancel", report_id])
    assert again.exit_code == 0 and "cancelled" in again.output
    bad = app.test_cli_runner().invoke(args=["reports", "cancel", "not-a-uuid"])
    assert bad.exit_code != 0 and "not a valid report id" in bad.output
    with app.app_context():
        from sqlalchemy import text

        from reportsvc.extensions import db

        audited = db.session.execute(text(
            "SELECT actor, outcome, detail FROM audit_log WHERE action = 'report.cancel' ORDER BY id")).all()
    assert [(a.actor, a.outcome, a.detail["via"]) for a in audited] == [("cli", "ok", "cli"), ("cli", "noop", "cli")]


def test_cancelled_while_running_posts_one_cancelled_webhook_and_none_on_the_request(client, worker, settings,
                                                                                      base_settings):
    from dataclasses import replace

    from tests.integration.test_webhooks import SECRET, Receiver

    receiver = Receiver()
    try:
        settings(push=replace(base_settings.push, webhook_secret=SECRET, webhook_allow_private=True))
        report_id = client.post("/reports", json={"callback_url": receiver.url,
                                                  "params": {"simulate": {"sleep_seconds": 30}}}).get_json()["id"]
        _running(client, report_id)
        assert client.delete(f"/reports/{report_id}").status_code == 202
        wait_status(client, report_id, {"CANCELLED"}, timeout=5)
        wait_for(lambda: receiver.requests, timeout=15)
        time.sleep(0.5)
        assert len(receiver.requests) == 1
        import json

        sent = json.loads(receiver.requests[0][2])
        assert sent["status"] == "CANCELLED" and sent["finished_at"]  # the outcome, not the request
    finally:
        receiver.close()
