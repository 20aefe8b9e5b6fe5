"""EMAIL_KEEPALIVE_SECONDS: READY emails over a kept SMTP connection, against a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

import pytest

from reportsvc.worker import notify, smtp_session
from tests.conftest import wait_for
from tests.integration.test_email import _email_events, _ready_report_awaiting_email
from tests.smtp import free_port, smtp_server


@pytest.fixture
def keepalive(settings):  # type: ignore[no-untyped-def]
    """Set EMAIL_KEEPALIVE_SECONDS (and the SMTP server) for the test; the kept connections are closed after it."""
    from reportsvc.config import get_settings

    def apply(seconds: float, port: int) -> None:
        settings(email_host="127.0.0.1", email_port=port,
                 hotpath=dataclasses.replace(get_settings().hotpath, email_keepalive_seconds=seconds))

    smtp_session.close_all()
    yield apply
    smtp_session.close_all()


def _deliver(app, report_id: str) -> str:  # type: ignore[no-untyped-def]
    with app.app_context():
        return notify.deliver(uuid.UUID(report_id), 1, False)


def test_several_emails_share_one_connection(app, client, worker, keepalive):
    with smtp_server() as (controller, inbox):
        keepalive(30, controller.port)
        reports = [_ready_report_awaiting_email(client, app, f"ops{i}@example.com") for i in range(3)]
        assert [_deliver(app, r) for r in reports] == ["sent", "sent", "sent"]
        assert [m[1] for m in inbox.messages] == [[f"ops{i}@example.com"] for i in range(3)]
        assert len(set(inbox.peers)) == 1  # one SMTP connection for the three
        assert smtp_session.idle_count() == 1
        assert all(_email_events(client, r) == ["email_sent"] for r in reports)


def test_keepalive_0_opens_a_connection_per_email(app, client, worker, keepalive):
    with smtp_server() as (controller, inbox):
        keepalive(0, controller.port)
        reports = [_ready_report_awaiting_email(client, app, f"ops{i}@example.com") for i in range(2)]
        assert [_deliver(app, r) for r in reports] == ["sent", "sent"]
        assert len(set(inbox.peers)) == 2
        assert smtp_session.idle_count() == 0


def test_an_idle_connection_is_closed_after_the_keepalive(app, client, worker, keepalive):
    with smtp_server() as (controller, inbox):
        keepalive(0.5, controller.port)
        assert _deliver(app, _ready_report_awaiting_email(client, app)) == "sent"
        assert smtp_session.idle_count() == 1
        wait_for(lambda: smtp_session.idle_count() == 0, timeout=10)
        assert _deliver(app, _ready_report_awaiting_email(client, app, "two@example.com")) == "sent"
        assert len(set(inbox.peers)) == 2  # the second email needed a new connection


def test_server_restarted_between_emails_still_delivers_each_once(app, client, worker, keepalive):
    port = free_port()
    first, second = (_ready_report_awaiting_email(client, app, f"ops{i}@example.com") for i in range(2))
    with smtp_server(port) as (controller, before):
        keepalive(30, port)
        assert _deliver(app, first) == "sent"
    assert smtp_session.idle_count() == 1  # kept, though its server is gone
    with smtp_server(port) as (controller, after):
        assert _deliver(app, second) == "sent"
    assert [m[1] for m in before.messages] == [["ops0@example.com"]]
    assert [m[1] for m in after.messages] == [["ops1@example.com"]]
    assert _email_events(client, second) == ["email_sent"]  # no failed attempt on the way


class _Recording:
    """An SMTP handler that keeps each message's recipients and the connection (peer) it came over."""

    def __init__(self) -> None:
        self.messages: list[list[str]] = []
        self.peers: list[Any] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        self.messages.append(list(envelope.rcpt_tos))
        self.peers.append(session.peer)
        return "250 OK"


class _ClosingAtNextMail(_Recording):
    """A server that, on a connection that already delivered one message, answers the next MAIL FROM with
    421 (it is closing): a kept connection lost in the moment between the idle check and the send."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = 0

    async def handle_MAIL(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]  # noqa: N802
        if session.peer in self.peers:
            self.refused += 1
            return "421 closing this channel"
        envelope.mail_from = address
        return "250 OK"


def test_a_connection_lost_before_data_sends_once_over_a_new_one(app, client, worker, keepalive):
    handler = _ClosingAtNextMail()
    with smtp_server(handler=handler) as (controller, _):
        keepalive(30, controller.port)
        reports = [_ready_report_awaiting_email(client, app, f"ops{i}@example.com") for i in range(2)]
        assert [_deliver(app, r) for r in reports] == ["sent", "sent"]
    assert handler.refused == 1
    assert handler.messages == [["ops0@example.com"], ["ops1@example.com"]]
    assert len(set(handler.peers)) == 2
    assert _email_events(client, reports[1]) == ["email_sent"]


class _DroppingAfterData(_Recording):
    """A server that takes the second message of a connection, then drops the connection without its 250."""

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802
        if session.peer in self.peers:
            server.transport.close()
        return await super().handle_DATA(server, session, envelope)


def test_a_connection_lost_after_data_is_a_failed_send_not_a_second_message(app, client, worker, keepalive):
    """The server may have the message: the attempt fails as it would have on a new connection (no resend)."""
    handler = _DroppingAfterData()
    with smtp_server(handler=handler) as (controller, _):
        keepalive(30, controller.port)
        first, second = (_ready_report_awaiting_email(client, app, f"ops{i}@example.com") for i in range(2))
        assert _deliver(app, first) == "sent"
        with pytest.raises(OSError):  # smtplib's errors are OSErrors: SMTPServerDisconnected here
            _deliver(app, second)
    assert handler.messages == [["ops0@example.com"], ["ops1@example.com"]]  # once, not resent
    assert _email_events(client, second) == ["email_failed"]
    assert smtp_session.idle_count() == 0


def test_worker_shutdown_closes_the_kept_connections(app, client, make_worker, keepalive):
    from tests.conftest import stop_worker

    with smtp_server() as (controller, inbox):
        keepalive(30, controller.port)
        running = make_worker()
        report_id = client.post("/reports", json={"notify_email": "ops@example.com"}).get_json()["id"]
        wait_for(lambda: _email_events(client, report_id) == ["email_sent"], timeout=15)
        assert [m[1] for m in inbox.messages] == [["ops@example.com"]]
        assert smtp_session.idle_count() == 1  # the generate job's inline email left its connection open
        stop_worker(running)
        assert smtp_session.idle_count() == 0
