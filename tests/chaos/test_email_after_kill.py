"""A worker killed after READY committed and before the email went out: the email is still sent, once."""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_for, wait_status

pytestmark = pytest.mark.slow


def test_worker_killed_between_ready_and_email_still_emails_once(app, client, chaos_settings, start_worker,
                                                                 sweeper_loop, chaos_inbox):
    # Created with no worker running, told to pause 60 s between READY and its email (fault injection).
    report_id = client.post("/reports", json={"notify_email": "late@example.com",
                                              "params": {"simulate": {"pause_before_email": 60}}}).get_json()["id"]
    first = start_worker()
    wait_status(client, report_id, {"READY"}, timeout=30)
    time.sleep(0.3)  # inside the pause: READY is committed, the email neither sent nor queued
    first.kill()
    assert chaos_inbox.messages == []
    kinds = [e["kind"] for e in client.get(f"/reports/{report_id}").get_json()["events"]]
    assert not [k for k in kinds if k.startswith("email_")], kinds
    # The generate message the dead worker held is released by the reconcile; its redelivery sends the email.
    start_worker()
    wait_for(lambda: chaos_inbox.messages, timeout=40)
    time.sleep(1.5)  # a duplicate delivery would land within this
    assert [m[1] for m in chaos_inbox.messages] == [["late@example.com"]]
    events = client.get(f"/reports/{report_id}").get_json()["events"]
    assert [e["kind"] for e in events if e["kind"].startswith("email_")] == ["email_sent"]
    assert any(e["kind"] == "requeued" and "email owed" in (e["message"] or "") for e in events), events
    assert [e["kind"] for e in events].count("completed") == 1
