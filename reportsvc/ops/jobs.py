"""Ties a report to the Dramatiq message that carries it.

Sits above `lifecycle` (status) and `queues` (Redis internals) and calls
each: commit the row first, then send (outbox pattern: a failed send leaves
the row PENDING for the reconciler to deliver later).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy.orm.attributes import set_committed_value

from reportsvc.config import get_settings
from reportsvc.names import GENERATE_ACTOR, LANES, REPORTS_QUEUE
from reportsvc.ops import messaging, webhooks
from reportsvc.queues.riders import riding
from reportsvc.state import audit, lifecycle
from reportsvc.state.models import ReportRequest

log = logging.getLogger("reportsvc.ops.jobs")


def queue_of(report: Any) -> str:
    """The queue a report's generate messages travel on: its priority lane's (a row or a dict with `priority`)."""
    priority = report.get("priority") if isinstance(report, dict) else getattr(report, "priority", None)
    return LANES.get(priority or "interactive", REPORTS_QUEUE)


def _queue_of_id(report_id: uuid.UUID) -> str:
    from sqlalchemy import select

    from reportsvc.extensions import db

    priority = db.session.execute(select(ReportRequest.priority).where(ReportRequest.id == report_id)).scalar()
    db.session.rollback()
    return LANES.get(priority or "interactive", REPORTS_QUEUE)


def send_generate(report_id: uuid.UUID, queue: str | None = None) -> str | None:
    """Enqueue the report's generate message (on its lane's queue) and record its id; None when Redis refused it."""
    try:
        message = messaging.send(GENERATE_ACTOR, queue or _queue_of_id(report_id), str(report_id))
    except Exception as exc:  # Redis down: the reconciler delivers it later
        _enqueue_failed(report_id, exc)
        return None
    lifecycle.record_message(report_id, message.message_id)
    log.info("Job %s enqueued as message %s", report_id, message.message_id)
    return message.message_id


def _enqueue_failed(report_id: uuid.UUID, exc: Exception) -> None:
    log.warning("Job %s could not be enqueued (%s); the reconciler will deliver it", report_id, exc)
    lifecycle.note(report_id, "enqueue_failed", "message could not be sent; will be re-sent by the reconciler",
                   {"error": str(exc)[:500]})


def submit(
    *,
    report_type: str,
    title: str | None,
    params: dict[str, Any],
    notify_email: str | None,
    requested_by: str | None,
    callback_url: str | None = None,
    schedule: lifecycle.ScheduleLink | None = None,
    priority: str | None = None,
) -> ReportRequest:
    """Create a PENDING report, then enqueue it on its lane (default: batch for a schedule's, else interactive).

    The message is built first, so the row is inserted already naming its message id (one INSERT, one
    commit); it is sent only after that commit (outbox order: a worker never gets a message for a row
    that is not there). If the send fails, the row's message id is cleared again and the row stays
    PENDING for the reconciler, with an `enqueue_failed` event. A schedule's slot that already has its
    report raises `lifecycle.SlotTaken` before anything is sent.
    """
    report_id = uuid.uuid4()
    priority = priority or ("batch" if schedule is not None else "interactive")
    message = messaging.message_for(GENERATE_ACTOR, LANES[priority], str(report_id))
    report = lifecycle.create(
        report_type=report_type, title=title, params=params, notify_email=notify_email, requested_by=requested_by,
        report_id=report_id, message_id=message.message_id, callback_url=callback_url, schedule=schedule,
        priority=priority, publish=False,
    )
    try:
        # The console's 'created' event rides in the enqueue's round trip (one Redis call, not two).
        with riding(lambda pipe: lifecycle.announce_on(pipe, report_id, "PENDING", "created", 0)) as riders:
            messaging.enqueue(message)
    except Exception as exc:  # Redis down: the reconciler delivers it later
        try:
            lifecycle.record_message(report_id, None, expected=message.message_id)
        except Exception as db_exc:  # the row keeps a message id nobody holds; the reconciler still finds it
            log.warning("Job %s: could not clear the unsent message id: %s", report_id, db_exc)
        set_committed_value(report, "message_id", None)  # what the row says now; not a pending change
        _enqueue_failed(report_id, exc)
        lifecycle.announce(report_id, "PENDING", "created", 0)
        return report
    if not riders.boarded:  # a broker other than IndexingRedisBroker took no riders: the event on its own
        lifecycle.announce(report_id, "PENDING", "created", 0)
    # At DEBUG unless CREATE_LOG_LINE: the row and its 'created' event carry the same facts.
    log.log(logging.INFO if get_settings().hotpath.create_log_line else logging.DEBUG,
            "Job %s enqueued as message %s", report_id, message.message_id)
    return report


def _audit_operator_action(action: str, report_id: uuid.UUID, outcome: lifecycle.Outcome, actor: str | None,
                           via: str | None) -> None:
    """Every cancel/retry an operator asks for is in the audit log: ok, noop (a repeat) or refused."""
    if via is None:  # not an operator request (e.g. a dead-letter requeue, which audits on its own)
        return
    result = "refused" if not outcome.ok else "ok" if outcome.changed else "noop"
    detail: dict[str, Any] = {"via": via, "status": outcome.status}
    if outcome.cancel_requested:
        detail["cancel_requested"] = True
    audit.record(actor or "unknown", action, f"report:{report_id}", result, detail)


def cancel(report_id: uuid.UUID, *, actor: str | None, via: str | None = None) -> lifecycle.Outcome:
    """Cancel a PENDING report and drop its message from the waiting/delayed lists if still there.

    A RUNNING report gets a cancel request instead (`outcome.cancel_requested`): its worker stops at its
    next check and ends it CANCELLED; its message stays with that worker until then.
    `via` ("api", "console") marks an operator's request: the attempt is audited, refused ones too."""
    outcome = lifecycle.cancel(report_id, actor=actor)
    _audit_operator_action("report.cancel", report_id, outcome, actor, via)
    if outcome.changed and outcome.status == "CANCELLED":
        webhooks.queue_if_wanted(report_id)
    if outcome.ok and outcome.status == "CANCELLED":
        message_id = _message_id(report_id)
        if message_id:
            try:
                from reportsvc.queues import live_actions as queue_actions
                from reportsvc.redis_client import get_redis

                removed = queue_actions.remove_pending(get_redis(), _queue_of_id(report_id), message_id)
            except Exception as exc:
                # The worker skips a CANCELLED report anyway; removal is housekeeping.
                log.warning("Job %s cancelled; could not remove message %s: %s", report_id, message_id, exc)
            else:
                if removed:
                    log.info("Job %s cancelled; message %s removed from the queue", report_id, message_id)
    return outcome


def retry(report_id: uuid.UUID, *, actor: str | None, reason: str = "manual retry",
          via: str | None = None) -> lifecycle.Outcome:
    """FAILED -> PENDING, then enqueue a fresh message; with `via`, audited as an operator's request."""
    outcome = lifecycle.retry(report_id, actor=actor, reason=reason)
    _audit_operator_action("report.retry", report_id, outcome, actor, via)
    if outcome.ok:
        send_generate(report_id)
    return outcome


def _message_id(report_id: uuid.UUID) -> str | None:
    from sqlalchemy import select

    from reportsvc.extensions import db

    value = db.session.execute(select(ReportRequest.message_id).where(ReportRequest.id == report_id)).scalar()
    db.session.rollback()
    return value
