"""The READY email as a Flask-Mail Message whose bytes are written directly: one text/plain utf-8 part and
the headers Flask-Mail writes (Content-Type, MIME-Version, Content-Transfer-Encoding, Subject, From, To, Date,
Message-ID), without a pass through the email package's policy.SMTP generator and header registry.

Flask-Mail's own Message builds a MIMEText, sets `policy.SMTP` on it and generates it (about 0.3 ms of CPU
for this one-part message, 10 % of the worker's CPU per one-page report), and calls `make_msgid()`, which
looks the host name up (`socket.getfqdn`) for every message. Here the Message-ID domain is looked up once
per process and the bytes are joined from strings (about 0.05 ms). Flask-Mail's Connection still sends it.
"""

from __future__ import annotations

import quopri
import socket
from collections.abc import Sequence
from email.header import Header
from email.utils import formatdate, make_msgid
from functools import lru_cache

import flask_mail

#: RFC 5322's recommended line length: a longer Subject line is folded, as the email package would.
_FOLD_AT = 78
_domain: str | None = None


def _msgid_domain() -> str:
    """This host's name for Message-IDs, looked up once per process (make_msgid's own default, cached)."""
    global _domain
    if _domain is None:
        _domain = socket.getfqdn()
    return _domain


def subject_header(subject: str) -> str:
    """The Subject header line (without its CRLF): RFC 2047 encoded words when it is not plain ASCII."""
    # "=?" in a plain title would read as the start of an encoded word: encoding it keeps the text as typed.
    if not subject.isascii() or "=?" in subject:
        return "Subject: " + Header(subject, "utf-8", header_name="Subject").encode(linesep="\r\n")
    if len(subject) + len("Subject: ") > _FOLD_AT:
        return "Subject: " + Header(subject, header_name="Subject").encode(linesep="\r\n")
    return "Subject: " + subject


@lru_cache(maxsize=1024)
def _address(address: str) -> str:
    """Flask-Mail's header form of an address (the same few addresses come back: the sender, a schedule's)."""
    return flask_mail.sanitize_address(address)


class ReadyMessage(flask_mail.Message):
    """A plain-text message Flask-Mail's Connection sends like its own, written by `as_bytes` below."""

    def __init__(self, *, subject: str, recipients: Sequence[str], body: str, sender: str) -> None:
        # Not Message.__init__: it would call make_msgid() with no domain, a host-name lookup per message.
        # The attributes are the ones it sets, so Flask-Mail's Connection.send and checks read them as usual.
        self.recipients = list(recipients)
        self.subject = subject
        self.sender = sender
        self.reply_to = None
        self.cc = []
        self.bcc = []
        self.body = body
        self.alts = {}
        self.date = None  # Connection.send stamps it
        self.msgId = make_msgid(domain=_msgid_domain())
        self.charset = None
        self.extra_headers = None
        self.mail_options = []
        self.rcpt_options = []
        self.attachments = []

    def as_bytes(self) -> bytes:
        """The message as sent: CRLF line ends; the utf-8 body as it is when ASCII, else quoted-printable (7-bit
        clean: a server without 8BITMIME takes it too, as it took Flask-Mail's encoded bodies)."""
        payload, encoding = (self.body or "").replace("\r\n", "\n").encode("utf-8"), "7bit"
        if not payload.isascii():
            payload, encoding = quopri.encodestring(payload), "quoted-printable"
        sender = _address(str(self.sender))
        # The recipients in their given order (Flask-Mail's set() shuffled them), once each.
        addresses = list(dict.fromkeys(_address(str(to)) for to in self.recipients))
        to = ", ".join(addresses)
        if len(to) + len("To: ") > _FOLD_AT:
            to = ",\r\n ".join(addresses)  # one address a line: a long list never makes an over-long line
        lines = (
            'Content-Type: text/plain; charset="utf-8"',
            "MIME-Version: 1.0",
            "Content-Transfer-Encoding: " + encoding,
            subject_header(self.subject),
            "From: " + sender,
            "To: " + to,
            "Date: " + formatdate(self.date, localtime=True),
            "Message-ID: " + self.msgId,
        )
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
        # smtplib sends bytes as given (it fixes line ends only in str): the body's lines end in CRLF here.
        return head + payload.replace(b"\n", b"\r\n")

    def as_string(self) -> str:
        """The message as text (what `as_bytes` sends, decoded)."""
        return self.as_bytes().decode("utf-8")
