"""Alert notifications: email to ALERT_EMAILS and a signed POST to ALERT_WEBHOOK_URL, sent by the scheduler.

Sent from the scheduler, not through a worker queue: "no worker alive" must still reach the on-call when no
worker runs. Each pending event is taken with FOR UPDATE SKIP LOCKED and marked done by the commit that follows
the sends, so two schedulers never send the same event; each channel is marked on its own, so a webhook that
fails is retried on the next evaluations (up to MAX_ATTEMPTS) without emailing again.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC
from typing import Any

from flask_mail import Message as MailMessage
from sqlalchemy import func, select

from reportsvc.config import Settings
from reportsvc.extensions import db, mail
from reportsvc.ops.webhook_http import post_signed
from reportsvc.state.alerts import AlertEvent

log = logging.getLogger("reportsvc.ops.alerts")

MAX_ATTEMPTS = 20
BATCH = 20


def compose(event: AlertEvent, base_url: str) -> tuple[str, str]:
    """Subject and body of an alert email."""
    word = "FIRING" if event.kind == "fired" else "RESOLVED"
    subject = f"[reportsvc] {word}: {event.rule}"
    at = event.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")  # as the console shows it (JSON keeps ISO)
    body = (f"{word}: {event.rule}\n\n{event.message}\n\nvalue: {event.value:g}\nat: {at}\n\n"
            f"Alerts: {base_url}/console/alerts\n\n-- reportsvc\n")
    return subject, body


def webhook_body(event: AlertEvent) -> bytes:
    """The JSON an alert webhook receives."""
    data: dict[str, Any] = {"id": event.id, "rule": event.rule, "state": event.kind, "value": event.value,
                            "message": event.message, "at": event.at.isoformat()}
    return json.dumps(data, separators=(",", ":")).encode()


def _send(event: AlertEvent, settings: Settings) -> list[str]:
    """Send what is still owed on each channel; the errors of those that failed."""
    push = settings.push
    errors: list[str] = []
    if push.alert_emails and not event.email_done:
        try:
            if not settings.email_host:
                raise RuntimeError("no SMTP server configured (EMAIL_HOST)")
            subject, body = compose(event, settings.app_base_url)
            mail.send(MailMessage(subject=subject, recipients=list(push.alert_emails), body=body,
                                  sender=settings.email_from))
            event.email_done = True
        except Exception as exc:
            errors.append(f"email: {type(exc).__name__}: {exc}"[:500])
    if push.alert_webhook_url and push.webhook_secret and not event.webhook_done:
        try:
            reply = post_signed(push.alert_webhook_url, webhook_body(event), secret=push.webhook_secret,
                                allow_private=push.webhook_allow_private, timeout=push.webhook_timeout_seconds)
            if not 200 <= reply.status < 300:
                raise RuntimeError(f"HTTP {reply.status}")
            event.webhook_done = True
        except Exception as exc:
            errors.append(f"webhook: {type(exc).__name__}: {exc}"[:500])
    return errors


def deliver_pending(settings: Settings) -> int:
    """Send the notifications still owed; how many events were completely sent."""
    session = db.session()
    sent = 0
    try:
        events = session.execute(select(AlertEvent).where(AlertEvent.notify == "pending").order_by(AlertEvent.id)
                                 .limit(BATCH).with_for_update(skip_locked=True)).scalars().all()
        for event in events:
            errors = _send(event, settings)
            event.notify_attempts += 1
            if not errors:
                event.notify, event.notified_at, event.notify_error = "sent", func.now(), None
                sent += 1
                log.info("alert %s %s notified", event.rule, event.kind)
            else:
                event.notify_error = "; ".join(errors)
                if event.notify_attempts >= MAX_ATTEMPTS:
                    event.notify = "failed"
                log.warning("alert %s %s notification failed (attempt %d): %s", event.rule, event.kind,
                            event.notify_attempts, event.notify_error)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return sent
