"""The notification email against a real SMTP server (aiosmtpd) started in the test."""

from __future__ import annotations

import logging
import threading
import time
import uuid

import pytest
from sqlalchemy import text

from tests.conftest import TEST_OPERATOR, TEST_PASSWORD, wait_for, wait_status
from tests.pdf import read_pdf
from tests.smtp import free_port, smtp_server


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


_free_port = free_port


@pytest.fixture(params=[True, False], ids=["direct", "session"])
def direct_sql(request, settings):  # type: ignore[no-untyped-def]
    """The email claim and its record on both paths: the direct connection, the session (WORKER_DIRECT_SQL)."""
    import dataclasses

    from reportsvc.config import get_settings

    settings(hotpath=dataclasses.replace(get_settings().hotpath, worker_direct_sql=request.param))
    return request.param


def test_ready_report_emails_the_download_link(client, worker, settings, smtp):
    controller, inbox = smtp
    settings(email_host="127.0.0.1", email_port=controller.port)
    report_id = client.post("/reports", json={"notify_email": "ops@example.com", "title": "Nightly"}).get_json()["id"]
    wait_status(client, report_id, {"READY"})
    wait_for(lambda: inbox.messages, timeout=15)
    sender, recipients, content = inbox.messages[0]
    assert recipients == ["ops@example.com"]
    assert f"http://reports.test/console/reports/{report_id}/download" in content
    assert f"http://reports.test/reports/{report_id}/download" not in content  # the API route: a JSON 401
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


def _link_in(content: str) -> str:
    """The download link's path (the line after 'Download it here:')."""
    lines = content.replace("=\r\n", "").replace("\r\n", "\n").split("\n")
    link = lines[lines.index("Download it here:") + 1].strip()
    assert link.startswith("http://reports.test/")
    return link.removeprefix("http://reports.test")


def test_emailed_link_takes_a_signed_out_browser_through_login_to_the_pdf(client, anon_client, worker, settings,
                                                                          smtp):
    controller, inbox = smtp
    settings(email_host="127.0.0.1", email_port=controller.port)
    report_id = client.post("/reports", json={"notify_email": "ops@example.com"}).get_json()["id"]
    wait_status(client, report_id, {"READY"})
    wait_for(lambda: inbox.messages, timeout=15)
    path = _link_in(inbox.messages[0][2])
    assert path == f"/console/reports/{report_id}/download"
    first = anon_client.get(path)
    assert first.status_code == 302 and first.headers["Location"] == f"/login?next={path}"
    login = anon_client.post("/login", data={"name": TEST_OPERATOR, "password": TEST_PASSWORD, "next": path})
    assert login.status_code in (302, 303) and login.headers["Location"] == path
    pdf = anon_client.get(path)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    pages, text = read_pdf(pdf.data)
    assert pages >= 1 and "Operations summary" in text


def _ready_report_awaiting_email(client, app, recipient: str = "ops@example.com") -> str:  # type: ignore[no-untyped-def]
    """A READY report whose email has not been queued (the recipient is set after it finished)."""
    from reportsvc.extensions import db

    report_id = client.post("/reports").get_json()["id"]  # nobody to email: no email message is queued
    wait_status(client, report_id, {"READY"})
    with app.app_context():
        db.session.execute(text("UPDATE report_requests SET notify_email = :to WHERE id = :i"),
                           {"to": recipient, "i": report_id})
        db.session.commit()
    return report_id


def _email_events(client, report_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [e["kind"] for e in client.get(f"/reports/{report_id}").get_json()["events"]
            if e["kind"].startswith("email_")]


def test_two_deliveries_at_the_same_moment_send_one_email(app, client, worker, settings, smtp, direct_sql):
    """Both pass 'not sent yet' together; only the claim holder talks to the SMTP server, the other ends cleanly."""
    from reportsvc.worker import notify

    controller, inbox = smtp
    settings(email_host="127.0.0.1", email_port=controller.port)
    report_id = _ready_report_awaiting_email(client, app)
    inbox.delay = 1.0
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def deliver() -> None:
        with app.app_context():
            start.wait()
            outcomes.append(notify.deliver(uuid.UUID(report_id), 1, False))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["busy", "sent"]
    assert [m[1] for m in inbox.messages] == [["ops@example.com"]]
    assert _email_events(client, report_id) == ["email_sent"]
    with app.app_context():  # later duplicates find the record
        assert notify.deliver(uuid.UUID(report_id), 1, False) == "already_sent"
    assert len(inbox.messages) == 1


def test_two_duplicate_messages_on_two_worker_threads_send_one_email(app, client, worker, settings, smtp,
                                                                     redis_client, caplog):
    """A requeued copy and the original run together: one email, and the copy is acked (no retry, no failure)."""
    from reportsvc.tasks import send_report_email

    controller, inbox = smtp
    settings(email_host="127.0.0.1", email_port=controller.port)
    report_id = _ready_report_awaiting_email(client, app)
    inbox.delay = 4.0  # the first send holds the claim this long: ample time for the second thread to arrive
    caplog.set_level(logging.INFO, logger="reportsvc.notify")
    send_report_email.send(report_id)
    send_report_email.send(report_id)
    wait_for(lambda: inbox.messages, timeout=15)
    worker.join()
    assert any("being sent by another delivery" in r.getMessage() for r in caplog.records)  # they did overlap
    assert [m[1] for m in inbox.messages] == [["ops@example.com"]]
    assert _email_events(client, report_id) == ["email_sent"]
    # Both messages acked: nothing waiting, delayed for a retry, or dead-lettered.
    assert redis_client.hlen("dramatiq:notifications.msgs") == 0
    assert redis_client.hlen("dramatiq:notifications.DQ.msgs") == 0
    assert redis_client.zcard("dramatiq:notifications.XQ") == 0
    time.sleep(0.5)
    assert len(inbox.messages) == 1


def test_a_failed_send_releases_the_claim_for_the_retry(app, client, worker, settings, smtp, direct_sql):
    from reportsvc.worker import notify

    controller, inbox = smtp
    settings(email_host="127.0.0.1", email_port=_free_port())  # nothing listens: the send fails
    report_id = _ready_report_awaiting_email(client, app)
    with app.app_context(), pytest.raises(OSError):
        notify.deliver(uuid.UUID(report_id), 1, False)
    settings(email_host="127.0.0.1", email_port=controller.port)
    with app.app_context():
        assert notify.deliver(uuid.UUID(report_id), 2, False) == "sent"
    assert [m[1] for m in inbox.messages] == [["ops@example.com"]]
    assert _email_events(client, report_id) == ["email_failed", "email_sent"]
    events = [e for e in client.get(f"/reports/{report_id}").get_json()["events"] if e["kind"].startswith("email_")]
    assert events[0]["detail"]["attempt"] == 1 and "ConnectionRefusedError" in events[0]["detail"]["error"]
    assert events[1]["detail"] == {"to": "ops@example.com", "attempt": 2}
    assert events[1]["message"] == "email sent to ops@example.com"
    assert events[1]["from_status"] is None and events[1]["to_status"] is None
    from reportsvc import metrics
    from tests.integration.test_metrics import scrape, value

    metrics.flush()  # the counts of this process's committed outcomes, on both paths
    samples = scrape(client)
    assert value(samples, "reportsvc_emails_sent_total") == 1
    assert value(samples, "reportsvc_emails_failed_total") == 1


def test_email_claim_is_held_only_inside_its_block(app, client, worker, direct_sql):
    """A second claimant is turned away while the first holds it, and gets it once the first left unrecorded."""
    from reportsvc.state import lifecycle

    report_id = uuid.UUID(_ready_report_awaiting_email(client, app))
    held, release, seen = threading.Event(), threading.Event(), []

    def hold() -> None:
        with app.app_context(), lifecycle.email_claim(report_id) as claim:
            seen.append(claim.state)
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    with app.app_context(), lifecycle.email_claim(report_id) as claim:
        assert claim.state == "busy"
    release.set()
    holder.join(10)
    with app.app_context(), lifecycle.email_claim(report_id) as claim:
        assert claim.state == "claimed"
    assert seen == ["claimed"]


def test_non_ascii_title_arrives_as_an_encoded_subject_that_parses_back(client, worker, settings, smtp):
    """The email's headers as the real SMTP server got them: a non-ASCII subject in RFC 2047 words, utf-8 body."""
    from email import message_from_bytes, policy

    controller, inbox = smtp
    settings(email_host="127.0.0.1", email_port=controller.port, email_from="Reports <reports@example.com>")
    title = "Übersicht – 月次レポート, größer als eine Zeile " + "ünd weiter " * 6
    report_id = client.post("/reports", json={"notify_email": "ops@example.com", "title": title}).get_json()["id"]
    wait_status(client, report_id, {"READY"})
    wait_for(lambda: inbox.messages, timeout=15)
    sender, recipients, content = inbox.messages[0]
    raw = content.encode()
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii() and b"=?utf-8?" in head  # encoded words, no raw 8-bit header
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert str(parsed["Subject"]) == f"Your report is ready: {title.strip()}"
    assert parsed["From"].addresses[0].addr_spec == "reports@example.com"
    assert parsed["To"].addresses[0].addr_spec == "ops@example.com"
    assert parsed["Date"].datetime is not None and parsed["Message-ID"].startswith("<")
    assert parsed.get_content_type() == "text/plain" and parsed.get_content_charset() == "utf-8"
    assert f'the report "{title.strip()}" ({report_id}) is ready.' in parsed.get_content()
    assert (sender, recipients) == ("reports@example.com", ["ops@example.com"])
