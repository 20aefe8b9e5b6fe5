"""The send_report_email actor: its own queue and retries, so SMTP trouble never touches a report's status."""

from __future__ import annotations

import logging
import uuid

import dramatiq
from flask_mail import Message as MailMessage
from sqlalchemy import select

from .. import lifecycle
from ..broker import NOTIFICATIONS_QUEUE
from ..config import get_settings
from ..extensions import db, mail
from ..models import ReportRequest
from . import context

log = logging.getLogger("reportsvc.notify")


def compose(report: ReportRequest, base_url: str) -> tuple[str, str]:
    """Subject and plain-text body of the 'report ready' email."""
    title = report.title or f"{report.report_type} report"
    link = f"{base_url}/reports/{report.id}/download"
    subject = f"Your report is ready: {title}"
    body = (
        f"Hello,\n\nthe report \"{title}\" ({report.id}) is ready.\n\n"
        f"Download it here:\n{link}\n\n"
        f"Details: {base_url}/console/reports/{report.id}\n\n"
        "-- reportsvc\n"
    )
    return subject, body


def deliver(report_id: uuid.UUID, attempt: int, final_attempt: bool) -> None:
    """Send the email for a READY report and put the outcome on its timeline."""
    settings = get_settings()
    report = db.session.execute(select(ReportRequest).where(ReportRequest.id == report_id)).scalar_one_or_none()
    db.session.rollback()
    if report is None or report.status != "READY":
        log.info("Job %s email skipped: report is %s", report_id, report.status if report else "missing")
        return
    if lifecycle.has_event(report_id, ("email_sent",)):
        # A duplicate message (a redelivered report queues the email again): never send twice.
        log.info("Job %s email already sent; skipping the duplicate", report_id)
        return
    recipient = report.notify_email or settings.email_default_to
    if not recipient:
        log.info("Job %s email skipped: no recipient (set notify_email or EMAIL_DEFAULT_TO)", report_id)
        return
    if not settings.email_host:
        log.info("Job %s email skipped: no SMTP server configured (EMAIL_HOST)", report_id)
        lifecycle.note(report_id, "email_skipped", "no SMTP server configured", {"to": recipient})
        return
    subject, body = compose(report, settings.app_base_url)
    try:
        mail.send(MailMessage(subject=subject, recipients=[recipient], body=body, sender=settings.email_from))
    except Exception as exc:
        text = f"{type(exc).__name__}: {exc}"[:500]
        lifecycle.note(
            report_id, "email_failed",
            f"email to {recipient} failed (attempt {attempt}){'; giving up' if final_attempt else '; will retry'}",
            {"to": recipient, "error": text, "attempt": attempt},
        )
        log.warning("Job %s email to %s failed: %s", report_id, recipient, text)
        raise
    lifecycle.note(report_id, "email_sent", f"email sent to {recipient}", {"to": recipient, "attempt": attempt})
    log.info("Job %s email sent to %s", report_id, recipient)


# Exponential backoff from 10 s up to 10 min between tries: an SMTP outage of ~30 min still delivers.
@dramatiq.actor(queue_name=NOTIFICATIONS_QUEUE, max_retries=get_settings().email_max_retries, time_limit=60_000,
                min_backoff=10_000, max_backoff=600_000)
def send_report_email(report_id: str) -> None:
    """Email the requester that the report is ready (message body: the report id)."""
    from dramatiq.middleware import CurrentMessage

    message = CurrentMessage.get_current_message()
    retries = message.options.get("retries", 0) if message else 0
    final = retries >= get_settings().email_max_retries
    with context.get_app().app_context():
        deliver(uuid.UUID(report_id), retries + 1, final)
