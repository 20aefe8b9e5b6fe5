"""EMAIL_INLINE: the generate job sends the READY email itself, and falls back to the email actor's retries."""

from __future__ import annotations

import dataclasses
import time

import pytest

from tests.conftest import wait_for, wait_status
from tests.smtp import free_port, smtp_server


@pytest.fixture
def inline(settings):  # type: ignore[no-untyped-def]
    """Settings with EMAIL_INLINE on (whatever the suite's environment says) and email to `port`."""
    def apply(port: int):  # type: ignore[no-untyped-def]
        from reportsvc.config import get_settings

        hotpath = dataclasses.replace(get_settings().hotpath, email_inline=True)
        return settings(email_host="127.0.0.1", email_port=port, hotpath=hotpath)

    return apply


def _email_events(client, report_id: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e for e in client.get(f"/reports/{report_id}").get_json()["events"] if e["kind"].startswith("email_")]


def test_inline_success_sends_exactly_one_email_with_one_event_and_queues_no_message(client, worker, inline,
                                                                                     monkeypatch):
    from reportsvc.worker import notify

    queued: list[object] = []
    monkeypatch.setattr(notify, "queue", lambda report_id, **kw: queued.append(report_id))
    with smtp_server() as (controller, inbox):
        inline(controller.port)
        report_id = client.post("/reports", json={"notify_email": "ops@example.com"}).get_json()["id"]
        wait_status(client, report_id, {"READY"})
        events = wait_for(lambda: _email_events(client, report_id), timeout=15)
        worker.join()
        time.sleep(0.3)
    assert [m[1] for m in inbox.messages] == [["ops@example.com"]]
    assert [(e["kind"], e["detail"]["attempt"]) for e in events] == [("email_sent", 1)]
    assert queued == []  # no email message: the generate job sent it


def test_inline_refused_falls_back_to_the_email_actor_and_is_delivered_once_when_smtp_returns(
        client, worker, inline, monkeypatch, redis_client):
    from reportsvc.worker import notify

    # The fallback's first wait: 5 - 10 s. Before it ends, this test must see READY, the email_failed event and
    # the waiting message, and start the SMTP server; with 1.5 - 3 s a loaded machine could miss that window
    # (the message then leaves the delay queue, and its attempt 2 fails as well).
    monkeypatch.setattr(notify, "EMAIL_MIN_BACKOFF_MS", 5000)
    port = free_port()
    inline(port)  # nothing listens there yet: the inline attempt is refused
    report_id = client.post("/reports", json={"notify_email": "ops@example.com"}).get_json()["id"]
    assert wait_status(client, report_id, {"READY", "FAILED"})["status"] == "READY"
    failed = wait_for(lambda: _email_events(client, report_id), timeout=15)
    assert failed[0]["kind"] == "email_failed" and "(attempt 1); will retry" in failed[0]["message"]
    # The fallback is the email actor's message, waiting out its backoff as its second attempt.
    wait_for(lambda: redis_client.hlen("dramatiq:notifications.DQ.msgs") == 1, timeout=5)
    with smtp_server(port) as (_, inbox):
        wait_for(lambda: inbox.messages, timeout=30)
        worker.join()
        time.sleep(0.5)
    assert [m[1] for m in inbox.messages] == [["ops@example.com"]]
    events = _email_events(client, report_id)
    assert [(e["kind"], e["detail"]["attempt"]) for e in events] == [("email_failed", 1), ("email_sent", 2)]
    assert client.get(f"/reports/{report_id}/status").get_json()["status"] == "READY"


def test_inline_off_sends_the_email_as_a_second_message(client, worker, settings, monkeypatch):
    from reportsvc.config import get_settings
    from reportsvc.worker import notify

    sent_by_actor: list[str] = []
    deliver = notify.deliver

    def spy(report_id, attempt, final_attempt):  # type: ignore[no-untyped-def]
        from dramatiq.middleware import CurrentMessage

        message = CurrentMessage.get_current_message()
        sent_by_actor.append(message.actor_name if message else "none")
        return deliver(report_id, attempt, final_attempt)

    monkeypatch.setattr(notify, "deliver", spy)
    with smtp_server() as (controller, inbox):
        settings(email_host="127.0.0.1", email_port=controller.port,
                 hotpath=dataclasses.replace(get_settings().hotpath, email_inline=False))
        report_id = client.post("/reports", json={"notify_email": "ops@example.com"}).get_json()["id"]
        wait_status(client, report_id, {"READY"})
        wait_for(lambda: inbox.messages, timeout=15)
        worker.join()
    assert sent_by_actor == ["send_report_email"]
    assert [e["kind"] for e in _email_events(client, report_id)] == ["email_sent"]
