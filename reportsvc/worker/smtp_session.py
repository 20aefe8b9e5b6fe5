"""Kept SMTP connections (EMAIL_KEEPALIVE_SECONDS): a process's emails reuse Flask-Mail connections that
stay open between messages, instead of a connect, EHLO and QUIT for each one.

A connection is used by one thread at a time: a send takes an idle one (or opens one with Flask-Mail's
`mail.connect()`), sends through Flask-Mail's `Connection.send`, and puts it back. One daemon thread closes
each connection once it has sat idle for the setting's seconds; `close_all` closes them at worker shutdown.
EMAIL_KEEPALIVE_SECONDS=0 sends each email over a connection of its own (`mail.send`), as before.

At most once, as before: a kept connection the server has let go of (restarted, timed out) is noticed
before the message goes out (something to read on an idle connection: the end of the stream or a 421
goodbye), or by a failure that comes before the DATA command; only then is the message sent once more, over
a new connection. A failure from DATA on may come after the server accepted the message: it is a failed
send, as it always was, and the connection is closed.

A kept connection has a socket timeout (EMAIL_TIMEOUT_SECONDS, from the connect on): a server or a path to it
that goes silent fails the send within it (a failed attempt, retried later as any other: silence does not say
the connection was lost, and the server may be holding the message). Closing never waits long: a connection
whose conversation stopped halfway (a failure, an interrupted send) is closed without a QUIT, which the server
could read as part of the message; an idle one gets its QUIT with QUIT_WAIT seconds for the answer.
"""

from __future__ import annotations

import logging
import os
import select
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import flask_mail
from flask import current_app

from reportsvc.config import get_settings
from reportsvc.extensions import mail

log = logging.getLogger("reportsvc.notify")
#: Seconds an idle connection's QUIT waits for the server's answer before the socket is just closed (worker
#: shutdown, the reaper): a goodbye, not worth holding a shutdown for.
QUIT_WAIT = 1.0


@dataclass
class _Kept:
    """One open Flask-Mail connection and what a send needs to know about it."""

    connection: flask_mail.Connection
    server: tuple[Any, ...]  # the settings it was opened with: another server's connection is not reused
    idle_until: float = 0.0  # monotonic time after which the reaper closes it
    data_started: bool = False  # set when this message's DATA command goes out (see _watch_data)


_cond = threading.Condition()
_idle: list[_Kept] = []  # last in, first out: the warmest connection is used first, the coldest expires
_reaper: threading.Thread | None = None


def send(message: flask_mail.Message, keepalive: float) -> None:
    """Send one message through Flask-Mail; over a kept connection when `keepalive` (seconds) is above 0."""
    if keepalive <= 0:
        mail.send(message)  # a connection of its own, closed after the message (QUIT)
        return
    server = _server()
    kept = _take(server)
    if kept is not None:
        try:
            _send_on(kept, message)
        except Exception as exc:
            _close(kept, goodbye=False)
            if kept.data_started or not _gone(exc):
                raise  # the server may hold the message, or refused it: a failed send, as over a new connection
            log.info("SMTP connection kept since the last email was gone (%s: %s); sending over a new one",
                     type(exc).__name__, exc)
        except BaseException:
            _close(kept, goodbye=False)  # interrupted (time limit) mid-conversation: its state is unknown
            raise
        else:
            _put(kept, keepalive)
            return
    kept = _open(server)
    try:
        _send_on(kept, message)
    except BaseException:
        _close(kept, goodbye=False)
        raise
    _put(kept, keepalive)


def close_all() -> int:
    """Close every idle kept connection now (worker shutdown); returns how many were open."""
    with _cond:
        closing = list(_idle)
        _idle.clear()
    for kept in closing:
        _close(kept, goodbye=True)
    return len(closing)


def idle_count() -> int:
    """How many kept connections are open and idle in this process."""
    with _cond:
        return len(_idle)


def _server() -> tuple[Any, ...]:
    """What a connection was opened with (Flask-Mail's state now: tests and reloads re-point it)."""
    state = current_app.extensions["mail"]
    return (state.server, state.port, state.username, state.password, state.use_tls, state.use_ssl, state.suppress)


def _open(server: tuple[Any, ...]) -> _Kept:
    """A new Flask-Mail connection (connect, STARTTLS and LOGIN as configured), its DATA watched."""
    connection = mail.connect()
    timeout = get_settings().hotpath.email_timeout_seconds
    if timeout > 0 and not connection.mail.suppress:
        connection.host = _connect(connection.mail, timeout)
        connection.num_emails = 0
    else:
        connection.__enter__()  # Flask-Mail's own set-up (no timeout); its __exit__ (QUIT) is `_close`
    kept = _Kept(connection, server)
    if connection.host is not None:
        _watch_data(connection.host, kept)
    return kept


def _connect(state: Any, timeout: float) -> smtplib.SMTP:
    """What Flask-Mail's `Connection.__enter__` sets up (SSL or plain, then STARTTLS and LOGIN as configured),
    with a socket timeout from the connect on: smtplib's default is none, and Flask-Mail passes none."""
    kind = smtplib.SMTP_SSL if state.use_ssl else smtplib.SMTP
    host = kind(state.server, state.port, timeout=timeout)
    try:
        host.set_debuglevel(int(state.debug))
        if state.use_tls:
            host.starttls()
        if state.username and state.password:
            host.login(state.username, state.password)
    except BaseException:
        host.close()
        raise
    return host


def _watch_data(host: Any, kept: _Kept) -> None:
    """Mark `kept` when this SMTP object sends DATA: until then no server can hold the message."""
    data: Callable[[Any], Any] = host.data

    def watched(msg: Any) -> Any:
        kept.data_started = True
        return data(msg)

    host.data = watched  # smtplib.SMTP.sendmail calls self.data(); the instance's attribute is found first


def _send_on(kept: _Kept, message: flask_mail.Message) -> None:
    kept.data_started = False
    kept.connection.send(message)


def _gone(exc: Exception) -> bool:
    """Whether a failure says the connection was lost (not that the server refused the message)."""
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return False  # silence (smtplib reports it as a disconnect): the server or the path may be stuck
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):  # every recipient refused: by a closing server (421)?
        return bool(exc.recipients) and all(code == 421 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421  # "service not available, closing transmission channel"
    if isinstance(exc, smtplib.SMTPException):
        return False
    return isinstance(exc, OSError)  # reset, broken pipe: the socket is gone


def _take(server: tuple[Any, ...]) -> _Kept | None:
    """An idle connection to this server that still looks open, or None; the others found on the way are closed."""
    closing: list[_Kept] = []
    found = None
    with _cond:
        now = time.monotonic()
        while _idle:
            kept = _idle.pop()
            if kept.server == server and kept.idle_until > now and not _let_go(kept):
                found = kept
                break
            closing.append(kept)
    for kept in closing:
        _close(kept, goodbye=False)  # expired, another server's, or let go: no conversation worth ending
    return found


def _let_go(kept: _Kept) -> bool:
    """Whether the server has let go of this idle connection: an idle SMTP connection has nothing to read,
    so anything readable is the end of the stream or the server's 421 goodbye (no round trip to find out)."""
    host = kept.connection.host
    sock = getattr(host, "sock", None) if host is not None else None
    if host is None:
        return False  # MAIL_SUPPRESS_SEND: nothing is connected
    if sock is None:
        return True
    try:
        # poll, not select: select cannot watch a descriptor numbered 1024 or more (a busy worker's sockets).
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))  # readable, or hung up / in error
    except (OSError, ValueError):
        return True


def _put(kept: _Kept, keepalive: float) -> None:
    """Back to the idle connections, to be closed after `keepalive` seconds unused."""
    global _reaper
    kept.idle_until = time.monotonic() + keepalive
    with _cond:
        # The reaper sleeps until the earliest deadline (without one while nothing is idle): it needs waking
        # only for a deadline earlier than all of those, so most emails wake no thread.
        wake = all(other.idle_until > kept.idle_until for other in _idle)
        _idle.append(kept)
        if _reaper is None or not _reaper.is_alive():
            _reaper = threading.Thread(target=_reap, name="reportsvc-smtp-reaper", daemon=True)
            _reaper.start()
        elif wake:
            _cond.notify()


def _reap() -> None:
    """Close each idle connection when its keepalive ends (sleeps while there is none)."""
    while True:
        with _cond:
            while not _idle:
                _cond.wait()
            now = time.monotonic()
            expired = [kept for kept in _idle if kept.idle_until <= now]
            for kept in expired:
                _idle.remove(kept)
            if not expired:
                _cond.wait(timeout=min(kept.idle_until for kept in _idle) - now)
        for kept in expired:
            _close(kept, goodbye=True)


def _close(kept: _Kept, *, goodbye: bool) -> None:
    """Close the connection; `goodbye`: an idle one, whose QUIT waits at most QUIT_WAIT seconds for the answer.

    Without: a conversation stopped halfway (after the 354 a QUIT would be a line of the message), or a server
    that stopped answering; the socket is just closed."""
    host = kept.connection.host
    if host is None:
        return
    if goodbye and host.sock is not None:
        try:
            timeout = host.sock.gettimeout()
            host.sock.settimeout(QUIT_WAIT if timeout is None else min(timeout, QUIT_WAIT))
            host.quit()
            return
        except Exception:  # the server is gone or silent: nothing to say goodbye to
            pass
    try:
        host.close()
    except Exception as exc:
        log.debug("SMTP connection close failed: %s", exc)


def _forget_after_fork() -> None:
    """A forked child starts with no kept connections (the sockets belong to the parent) and no reaper."""
    global _cond, _reaper
    _idle.clear()
    _cond = threading.Condition()
    _reaper = None


os.register_at_fork(after_in_child=_forget_after_fork)
