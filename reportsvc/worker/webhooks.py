"""The send_report_webhook actor: a report's completion webhook on the notifications queue, retried for 24 h."""

from __future__ import annotations

import uuid

import dramatiq
from dramatiq.middleware import CurrentMessage

from reportsvc.names import NOTIFICATIONS_QUEUE, WEBHOOK_ACTOR
from reportsvc.ops import webhooks
from reportsvc.worker import context

MAX_RETRIES = len(webhooks.RETRY_SCHEDULE_MS)


@dramatiq.actor(actor_name=WEBHOOK_ACTOR, queue_name=NOTIFICATIONS_QUEUE, max_retries=MAX_RETRIES,
                time_limit=60_000)
def send_report_webhook(report_id: str, outcome: str) -> None:
    """POST the signed outcome to the report's callback_url (message body: report id and outcome)."""
    message = CurrentMessage.get_current_message()
    retries = message.options.get("retries", 0) if message else 0
    final = retries >= MAX_RETRIES
    with context.get_app().app_context():
        try:
            webhooks.deliver(uuid.UUID(report_id), outcome, retries + 1, final)
        except webhooks.DeliveryFailed as exc:
            # The fixed schedule, not Dramatiq's jittered backoff: the timeline can say when the next try is.
            raise dramatiq.Retry(str(exc), delay=webhooks.RETRY_SCHEDULE_MS[min(retries, MAX_RETRIES - 1)]) from exc
