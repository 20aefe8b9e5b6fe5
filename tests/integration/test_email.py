"""The notification email against a real SMTP server (aiosmtpd) started in the test."""

from __future__ import annotations

import socket
import time

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import wait_for, wait_status


class Inbox:
    """Collects the messages the SMTP server receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd hook name)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ready_report_emails_the_download_link(client, worker, settings, smtp):
    controller, inbox = smtp
    settings(email_host="127.0.0.1", email_port=controller.port)
    report_id = client.post("/reports", json={"notify_email": "ops@example.com", "title": "Nightly"}).get_json()["id"]
    wait_status(client, report_id, {"READY"})
    wait_for(lambda: inbox.messages, timeout=15)
    sender, recipients, content = inbox.messages[0]
    assert recipients == ["ops@example.com"]
    assert f"http://reports.test/reports/{report_id}/download" in content
    assert "Nightly" in content
    events = wait_for(lambda: [e for e in client.get(f"/reports/{report_id}").get_json()["events"]
                               if e["kind"] == "email_sent"])
    assert events[0]["detail"]["to"] == "ops@example.com"


def test_smtp_refusing_never_fails_the_report(client, worker, settings):
    settings(email_host="127.0.0.1", email_port=_free_port())
    report_id = client.post("/reports", json={"notify_email": "ops@example.com"}).get_json()["id"]
    wait_status(client, report_id, {"READY"})
    failed = wait_for(lambda: [e for e in client.get(f"/reports/{report_id}").get_json()["events"]
                               if e["kind"] == "email_failed"], timeout=15)
    assert "ops@example.com" in failed[0]["message"]
    assert client.get(f"/reports/{report_id}/status").get_json()["status"] == "READY"


def test_no_smtp_configured_skips_with_a_note(client, worker, settings):
    settings(email_host=None)
    report_id = client.post("/reports", json={"notify_email": "ops@example.com"}).get_json()["id"]
    wait_status(client, report_id, {"READY"})
    wait_for(lambda: [e for e in client.get(f"/reports/{report_id}").get_json()["events"]
                      if e["kind"] == "email_skipped"], timeout=10)


def test_redelivered_ready_report_queues_its_missing_email_once(client, worker, settings, smtp):
    """A crash between READY and queueing the email is healed by the redelivered message; no duplicates."""
    from reportsvc.tasks import generate_report, send_report_email

    controller, inbox = smtp
    settings(email_host="127.0.0.1", email_port=controller.port)
    report_id = client.post("/reports").get_json()["id"]  # nobody to email yet
    wait_status(client, report_id, {"READY"})
    from sqlalchemy import text

    from reportsvc.extensions import db

    with client.application.app_context():
        db.session.execute(text("UPDATE report_requests SET notify_email = 'late@example.com' WHERE id = :i"),
                           {"i": report_id})
        db.session.commit()
    generate_report.send(report_id)  # the redelivery
    wait_for(lambda: inbox.messages, timeout=15)
    send_report_email.send(report_id)  # a duplicate email message
    worker.join()
    time.sleep(0.5)
    assert [m[1] for m in inbox.messages] == [["late@example.com"]]
