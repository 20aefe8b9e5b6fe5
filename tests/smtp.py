"""A real SMTP server for tests (aiosmtpd on a free port) that keeps what it receives."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiosmtpd.controller import Controller


class Inbox:
    """Collects the messages the SMTP server receives; `delay` holds each one that long before the 250."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []
        self.peers: list[Any] = []  # the client's address for each message: one per SMTP connection
        self.delay = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd hook)
        """Accept one message (after `delay`), keeping sender, recipients and content."""
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow server keeps the first delivery mid-send
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode()))
        self.peers.append(session.peer)
        return "250 OK"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(port: int | None = None, handler: Any = None) -> Iterator[tuple[Controller, Any]]:
    """A running SMTP server on 127.0.0.1 (on `port`, else a free one) and its handler (an Inbox by default)."""
    inbox = handler if handler is not None else Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()
