"""Kept SMTP connections (EMAIL_KEEPALIVE_SECONDS) to a server that stops answering (a frozen host, a path that
drops packets): sends fail within EMAIL_TIMEOUT_SECONDS and go the retry way, and closing never waits on it."""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reportsvc.worker import notify, smtp_session
from tests.integration.test_email import _email_events, _ready_report_awaiting_email

#: Bound for a call that must not wait on the silent server (its own timeouts are 1 s).
BOUND = 10.0


class SilentServer:
    """A plain-socket SMTP server that answers until `silent` is set, then reads and never answers; with
    `silent_after_354` it goes silent once it has said 354 (mid-message). Keeps the messages it accepted and
    every line a connection sent from its first DATA on."""

    def __init__(self) -> None:
        self.silent = threading.Event()
        self.silent_after_354 = False
        self.messages: list[bytes] = []
        self.data_lines: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        lines = conn.makefile("rb")
        body: list[bytes] | None = None
        data_seen = False
        if not self.silent.is_set():
            conn.sendall(b"220 silent.example ESMTP\r\n")
        try:
            for line in lines:
                if data_seen:
                    self.data_lines.append(line)
                if body is not None:
                    if line != b".\r\n":
                        body.append(line)
                        continue
                    self.messages.append(b"".join(body))
                    body = None
                    self._answer(conn, b"250 queued")
                    continue
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    self._answer(conn, b"250-silent.example\r\n250 8BITMIME")
                elif verb == b"DATA":
                    data_seen = True
                    if self._answer(conn, b"354 end with <CRLF>.<CRLF>"):
                        body = []
                        if self.silent_after_354:
                            self.silent.set()
                elif verb == b"QUIT":
                    if self._answer(conn, b"221 bye"):
                        return
                else:
                    self._answer(conn, b"250 OK")
        except OSError:
            return
        finally:
            conn.close()

    def _answer(self, conn: socket.socket, reply: bytes) -> bool:
        if self.silent.is_set():
            return False
        conn.sendall(reply + b"\r\n")
        return True

    def close(self) -> None:
        """Stop listening and drop every connection."""
        self._listener.close()
        for conn in self._conns:
            with contextlib.suppress(OSError):  # already closed
                conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def silent_server(settings) -> Iterator[SilentServer]:  # type: ignore[no-untyped-def]
    """The server, with EMAIL_KEEPALIVE_SECONDS=30 and EMAIL_TIMEOUT_SECONDS=1 pointed at it."""
    from reportsvc.config import get_settings

    server = SilentServer()
    smtp_session.close_all()
    settings(email_host="127.0.0.1", email_port=server.port,
             hotpath=dataclasses.replace(get_settings().hotpath, email_keepalive_seconds=30,
                                         email_timeout_seconds=1))
    yield server
    server.close()
    smtp_session.close_all()


def _within(call: Callable[[], Any], seconds: float) -> tuple[bool, Any]:
    """Run `call` in a thread: (whether it ended within `seconds`, what it returned or raised)."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # noqa: BLE001 (handed back to the test)
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), outcome[0] if outcome else None


def _deliver(app, report_id: str, attempt: int = 1) -> str:  # type: ignore[no-untyped-def]
    with app.app_context():
        return notify.deliver(uuid.UUID(report_id), attempt, False)


def test_closing_a_kept_connection_to_a_silent_server_does_not_wait_for_it(app, client, worker, silent_server):
    assert _deliver(app, _ready_report_awaiting_email(client, app)) == "sent"
    assert smtp_session.idle_count() == 1
    silent_server.silent.set()  # the server (or the path to it) goes silent while the connection is idle
    ended, closed = _within(smtp_session.close_all, BOUND)  # what worker shutdown calls
    assert ended and closed == 1
    assert smtp_session.idle_count() == 0


def test_a_send_on_a_silent_kept_connection_fails_within_the_timeout_and_is_retried_once(app, client, worker,
                                                                                        silent_server):
    first = _ready_report_awaiting_email(client, app, "ops0@example.com")
    second = _ready_report_awaiting_email(client, app, "ops1@example.com")
    assert _deliver(app, first) == "sent"
    silent_server.silent.set()
    ended, failed = _within(lambda: _deliver(app, second), BOUND)
    assert ended and isinstance(failed, OSError)  # smtplib's errors are OSErrors: a failed attempt, raised
    assert _email_events(client, second) == ["email_failed"]
    assert smtp_session.idle_count() == 0  # that connection was closed, not put back
    silent_server.silent.clear()  # the server answers again: the retry sends it, once
    assert _deliver(app, second, attempt=2) == "sent"
    assert _email_events(client, second) == ["email_failed", "email_sent"]
    assert [b"ops1@example.com" in m for m in silent_server.messages] == [False, True]


def test_a_send_that_goes_silent_mid_message_is_closed_without_a_quit_in_the_message(app, client, worker,
                                                                                   silent_server):
    """After the 354 every line is the message's: a QUIT there would be text the server may deliver."""
    first = _ready_report_awaiting_email(client, app, "ops0@example.com")
    second = _ready_report_awaiting_email(client, app, "ops1@example.com")
    assert _deliver(app, first) == "sent"
    silent_server.silent_after_354 = True
    silent_server.data_lines.clear()
    ended, failed = _within(lambda: _deliver(app, second), BOUND)
    assert ended and isinstance(failed, OSError)
    assert _email_events(client, second) == ["email_failed"]
    assert silent_server.data_lines[-1] == b".\r\n"  # the message's end, and nothing after it
    assert not any(line.upper().startswith(b"QUIT") for line in silent_server.data_lines)
    assert smtp_session.idle_count() == 0
