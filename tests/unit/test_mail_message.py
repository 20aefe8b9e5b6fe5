"""The READY email's bytes (reportsvc.worker.mail_message): what a mail reader parses back from them."""

from __future__ import annotations

import time
from email import message_from_bytes, policy

import pytest

from reportsvc.worker.mail_message import ReadyMessage

SUBJECTS = [
    "Your report is ready: Nightly",
    "Your report is ready: " + "word " * 40 + "end",  # plain ASCII, longer than a line: folded
    "Your report is ready: " + "x" * 150,  # one long word: no place to fold, still one line under 998
    "Your report is ready: =?utf-8?q?not_an_encoded_word?=",  # typed text that looks like an encoded word
    "Your report is ready: Über Größe – 月次レポート " * 4 + "end",
]


def _sent(subject: str, recipients: list[str], body: str = "Hello,\n\nline\n.\n-- reportsvc\n") -> bytes:
    message = ReadyMessage(subject=subject, recipients=recipients, body=body, sender="Reports <r@example.com>")
    message.date = time.time()  # what Flask-Mail's Connection.send stamps before as_bytes
    return message.as_bytes()


@pytest.mark.parametrize("subject", SUBJECTS)
def test_subject_parses_back_to_what_was_composed(subject: str) -> None:
    raw = _sent(subject, ["ops@example.com"])
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert str(message_from_bytes(raw, policy=policy.default)["Subject"]) == subject


def test_body_is_utf8_with_crlf_line_ends() -> None:
    body = "Hällo,\n\nthe report \"Größe\" is ready.\n"
    raw = _sent("Your report is ready: x", ["ops@example.com"], body)
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert raw.isascii()  # quoted-printable: no server needs 8BITMIME for it
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Content-Transfer-Encoding"] == "quoted-printable" and parsed.get_content_charset() == "utf-8"
    assert parsed.get_content().replace("\r\n", "\n") == body


def test_an_ascii_body_goes_as_it_is() -> None:
    body = "Hello,\n\nthe report is ready.\n"
    raw = _sent("Your report is ready: x", ["ops@example.com"], body)
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Content-Transfer-Encoding"] == "7bit"
    assert raw.endswith(body.replace("\n", "\r\n").encode())


def test_many_recipients_keep_their_order_on_short_lines() -> None:
    recipients = [f"user{i}@example.com" for i in range(30)]
    raw = _sent("Your report is ready: x", recipients)
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n"))
    parsed = message_from_bytes(raw, policy=policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == recipients
    assert parsed["From"].addresses[0].addr_spec == "r@example.com"


def test_each_message_has_its_own_message_id_on_one_domain() -> None:
    ids = {message_from_bytes(_sent("s", ["a@example.com"]), policy=policy.default)["Message-ID"] for _ in range(50)}
    assert len(ids) == 50
    assert len({i.rsplit("@", 1)[1] for i in ids}) == 1
