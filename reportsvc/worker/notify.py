"""The READY email: its first attempt inside the generate job (`after_ready`, EMAIL_INLINE), then the
send_report_email actor on its own queue with its own retries, so SMTP trouble never touches a report's status.

At most one email per report: a delivery sends only while it holds the report's email claim
(`lifecycle.email_claim`, a PostgreSQL advisory lock held across the SMTP conversation and released
by the commit that records "email_sent"). A duplicate message that runs at the same moment finds the
claim busy and ends; one that runs later finds the "email_sent" event and ends. The one window no
claim can close: the process dies after the SMTP server accepted the mail and before the event is
committed; the retry then sends it once more (closing that needs the SMTP server's cooperation).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import dramatiq
from dramatiq.common import compute_backoff
from dramatiq.middleware.retries import DEFAULT_MAX_BACKOFF
from dramatiq.middleware.time_limit import TimeLimitExceeded
from sqlalchemy import select

from reportsvc.config import Settings, get_settings
from reportsvc.extensions import db
from reportsvc.logs import JOB_STEP
from reportsvc.names import NOTIFICATIONS_QUEUE
from reportsvc.state import lifecycle
from reportsvc.state.models import ReportRequest
from reportsvc.worker import context, smtp_session
from reportsvc.worker.mail_message import ReadyMessage

log = logging.getLogger("reportsvc.notify")

#: Dramatiq 2.2's stock backoff (dramatiq.common.compute_backoff) waits min_backoff * 2**n * uniform(1, 2)
#: before retry n (n from 0), or max_backoff * uniform(0.5, 1) once that product passes max_backoff. With
#: EMAIL_MAX_RETRIES = 8 the eight waits add up to 30.5 min at the least (10+20+40+80+160+320+600+600 s:
#: a draw that overshoots 20 min falls back to 10-20 min) and 61 min at the most (20+40+...+640+1200+1200 s),
#: so an SMTP outage of half an hour still ends in a delivered email. tests/unit/test_email_backoff.py
#: recomputes the minimum with compute_backoff itself.
EMAIL_MIN_BACKOFF_MS = 10_000
EMAIL_MAX_BACKOFF_MS = 1_200_000


@dataclass(frozen=True)
class Email:
    """One 'report ready' email, composed before the claim is taken."""

    recipients: tuple[str, ...]
    subject: str
    body: str


class EmailFacts(Protocol):
    """What composing the email reads: a ReportRequest row, or `Known` (from the worker's claim)."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def title(self) -> str | None: ...
    @property
    def report_type(self) -> str: ...
    @property
    def notify_email(self) -> str | None: ...
    @property
    def notify_emails(self) -> Sequence[str] | None: ...


@dataclass(frozen=True)
class Known:
    """The email facts a generate job already holds from its claim, so the inline email reads no row."""

    id: uuid.UUID
    title: str | None
    report_type: str
    notify_email: str | None
    notify_emails: tuple[str, ...]


def compose(report: EmailFacts, base_url: str) -> tuple[str, str]:
    """Subject and plain-text body of the 'report ready' email."""
    # The title is data the requester typed: folded onto one line (no CR/LF, no control characters), so it
    # can never start a header of its own in the subject or a line of its own in the body.
    raw_title = report.title or f"{report.report_type} report"
    title = " ".join("".join(ch if ch.isprintable() else " " for ch in raw_title).split())[:200]
    # The console's download route, not the API's: a signed-out browser is sent to /login and back to the
    # PDF, where the API route would answer it with a JSON 401. Built from APP_BASE_URL (no Flask here).
    link = f"{base_url}/console/reports/{report.id}/download"
    subject = f"Your report is ready: {title}"
    body = (
        f"Hello,\n\nthe report \"{title}\" ({report.id}) is ready.\n\n"
        f"Download it here:\n{link}\n\n"
        f"Details: {base_url}/console/reports/{report.id}\n\n"
        "-- reportsvc\n"
    )
    return subject, body


def recipients_of(report: EmailFacts, default_to: str | None) -> tuple[str, ...]:
    """Whom the email goes to: the requester's address and a schedule's recipients, else EMAIL_DEFAULT_TO."""
    found = [report.notify_email] if report.notify_email else []
    found += [address for address in (report.notify_emails or []) if address not in found]
    if not found and default_to:
        found = [default_to]
    return tuple(found)


def _prepare(report_id: uuid.UUID, settings: Settings, extra: dict[str, bool] | None = None,
             known: Known | None = None) -> Email | None:
    """The email a READY report with a recipient gets, or None (logged) when there is nobody or nothing to tell.

    `known`: the facts of a report this job has just made READY (no row to read)."""
    if known is not None:
        return _compose_email(known, settings, extra)
    try:
        report = db.session.execute(select(ReportRequest).where(ReportRequest.id == report_id)).scalar_one_or_none()
        if report is None or report.status != "READY":
            log.info("Job %s email skipped: report is %s", report_id, report.status if report else "missing",
                     extra=extra)
            return None
        return _compose_email(report, settings, extra)
    finally:
        # Everything is read: the claim then starts a transaction of its own, with nothing else in it.
        db.session.rollback()


def _compose_email(report: EmailFacts, settings: Settings, extra: dict[str, bool] | None) -> Email | None:
    recipients = recipients_of(report, settings.email_default_to)
    if not recipients:
        log.info("Job %s email skipped: no recipient (set notify_email or EMAIL_DEFAULT_TO)", report.id, extra=extra)
        return None
    subject, body = compose(report, settings.app_base_url)
    return Email(recipients, subject, body)


def _send(claim: lifecycle.EmailClaim, email: Email, settings: Settings, attempt: int, final_attempt: bool,
          step: bool) -> None:
    """Hand the email to the SMTP server and record the outcome (that commit also ends the claim)."""
    report_id = claim.report_id
    to = ", ".join(email.recipients)
    try:
        # One message to all of them: one delivery, one claim, one outcome on the timeline.
        smtp_session.send(ReadyMessage(subject=email.subject, recipients=email.recipients, body=email.body,
                                       sender=settings.email_from), settings.hotpath.email_keepalive_seconds)
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}"[:500]
        then = "giving up" if final_attempt else "will retry"
        claim.record("email_failed", f"email to {to} failed (attempt {attempt}); {then}",
                     {"to": to, "error": text, "attempt": attempt})
        log.warning("Job %s email to %s failed: %s", report_id, to, text)
        raise
    # Dying between the SMTP server's "250 OK" above and this commit is the one way to send twice:
    # the claim is gone with the connection, no event says "sent", and the retry sends again.
    claim.record("email_sent", f"email sent to {to}", {"to": to, "attempt": attempt})
    log.info("Job %s email sent to %s", report_id, to, extra=JOB_STEP if step else None)


def deliver(report_id: uuid.UUID, attempt: int, final_attempt: bool, *, step: bool = False,
            known: Known | None = None) -> str:
    """Send the email for a READY report and put the outcome on its timeline; returns what happened.

    `step`: a step of the generate job (EMAIL_INLINE), whose summary line names the outcome; `known`: what
    that job knows of the report it has just made READY (the row is not read again).

    "sent", "skipped" (not READY, no recipient, no SMTP server), "already_sent" or "busy" (a duplicate
    delivery holds the claim right now and will send or retry on its own). A failed send raises.
    """
    settings = get_settings()
    extra = JOB_STEP if step else None
    email = _prepare(report_id, settings, extra, known)
    if email is None:
        return "skipped"
    with lifecycle.email_claim(report_id) as claim:
        if claim.state == "sent":
            # A duplicate message (a redelivered report queues the email again): never send twice.
            log.info("Job %s email already sent; skipping the duplicate", report_id, extra=extra)
            return "already_sent"
        if claim.state == "busy":
            # Ending without an exception: retrying would only find the email sent, or the holder retrying.
            log.info("Job %s email is being sent by another delivery right now; dropping this duplicate", report_id,
                     extra=extra)
            return "busy"
        if not settings.email_host:
            log.info("Job %s email skipped: no SMTP server configured (EMAIL_HOST)", report_id, extra=extra)
            claim.record("email_skipped", "no SMTP server configured", {"to": ", ".join(email.recipients)})
            return "skipped"
        _send(claim, email, settings, attempt, final_attempt, step)
    return "sent"


def queue(report_id: uuid.UUID, *, retries_done: int = 0) -> None:
    """Queue the email actor's message; after `retries_done` failed attempts it waits the backoff that follows.

    An inline attempt that failed counts as the message's first: the message then carries retries=1 and runs
    after the same jittered wait a failed message would, so the attempts and their spacing are the email
    actor's own whichever process made the first. A send to Redis that fails is put on the timeline.
    """
    try:
        if retries_done:
            _, delay = compute_backoff(retries_done - 1, factor=EMAIL_MIN_BACKOFF_MS,
                                       max_backoff=min(EMAIL_MAX_BACKOFF_MS, DEFAULT_MAX_BACKOFF))
            send_report_email.send_with_options(args=(str(report_id),), delay=delay, retries=retries_done)
        else:
            send_report_email.send(str(report_id))
    except Exception as exc:
        log.warning("Job %s email could not be queued: %s", report_id, exc)
        lifecycle.note(report_id, "email_failed", "notification could not be queued", {"error": str(exc)[:500]})


def after_ready(report_id: uuid.UUID, *, inline: bool, known: Known | None = None) -> str:
    """The email of a report whose READY just committed: sent here (`inline`, EMAIL_INLINE) or queued.

    Inline is the email actor's first attempt run in the generate job: the same claim, the same
    timeline events, no second message. If it fails (SMTP refused or down, the database, the time
    limit) the email actor's message is queued to go on with the remaining retries on the normal
    schedule; until this returns the generate message is unacknowledged, so a worker killed before
    the email was sent or queued leaves a redelivery that finds the email still owed.
    Returns "queued", "sent", "skipped", "already_sent", "busy" or "failed" (inline, no retry left).
    """
    if not inline:
        queue(report_id)
        return "queued"
    max_retries = get_settings().email_max_retries
    try:
        return deliver(report_id, 1, final_attempt=max_retries == 0, step=True, known=known)
    except (Exception, TimeLimitExceeded) as exc:
        if max_retries == 0:
            log.warning("Job %s email failed and EMAIL_MAX_RETRIES is 0: not retried (%s)", report_id, exc)
            return "failed"
        log.info("Job %s email not sent inline (%s): queued for its retries", report_id, type(exc).__name__)
        queue(report_id, retries_done=1)
        return "queued"


# Dramatiq's jittered exponential backoff from 10 s, capped at 20 min a wait: see EMAIL_MIN_BACKOFF_MS.
@dramatiq.actor(queue_name=NOTIFICATIONS_QUEUE, max_retries=get_settings().email_max_retries, time_limit=60_000,
                min_backoff=EMAIL_MIN_BACKOFF_MS, max_backoff=EMAIL_MAX_BACKOFF_MS)
def send_report_email(report_id: str) -> None:
    """Email the requester that the report is ready (message body: the report id)."""
    from dramatiq.middleware import CurrentMessage

    message = CurrentMessage.get_current_message()
    retries = message.options.get("retries", 0) if message else 0
    final = retries >= get_settings().email_max_retries
    with context.get_app().app_context():
        deliver(uuid.UUID(report_id), retries + 1, final)
