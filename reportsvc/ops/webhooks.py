"""Completion webhooks: when a report with a `callback_url` is READY, FAILED or CANCELLED, POST it a signed JSON.

The code that ends a report calls `queue_outcome` (or `queue_if_wanted`) after the transition committed; the
`send_report_webhook` actor (reportsvc.worker.webhooks) runs `deliver` on the notifications queue, retrying on
`RETRY_SCHEDULE_MS` (over 24 h). Each attempt and its answer go on the report's timeline. At most once per
outcome: a delivery posts only while it holds the outcome's claim (`lifecycle.webhook_claim`), and a
"webhook_delivered" event names the outcome it delivered. An outcome is "<status>#<attempts>": a report that
FAILED, was retried and is READY has had two outcomes, and a webhook each.
"""

from __future__ import annotations

import http.client
import json
import logging
import uuid
from typing import Any

from sqlalchemy import select

from reportsvc.config import get_settings
from reportsvc.extensions import db
from reportsvc.names import NOTIFICATIONS_QUEUE, WEBHOOK_ACTOR
from reportsvc.ops import messaging
from reportsvc.ops.webhook_http import UnsafeTarget, post_signed
from reportsvc.state import lifecycle
from reportsvc.state.models import ReportRequest

log = logging.getLogger("reportsvc.ops.webhooks")

FINAL_STATUSES = ("READY", "FAILED", "CANCELLED")
#: Waits before retries 1..19: doubling from 30 s up to 2 h, then every 2 h; they add up to 24 h 3.5 min, so a
#: receiver that is down for a day still gets its webhook. Exact (no jitter): the timeline says when the next is.
RETRY_SCHEDULE_MS: tuple[int, ...] = tuple(
    [30_000 * 2**n for n in range(7)] + [3_600_000] + [7_200_000] * 11
)


class DeliveryFailed(RuntimeError):
    """The receiver could not be reached or did not answer 2xx; the actor retries."""


def outcome_of(status: str, attempts: int) -> str:
    """The outcome key of a finished report: its final status and how many attempts it took."""
    return f"{status}#{attempts}"


def queue_outcome(report_id: uuid.UUID, status: str, attempts: int) -> None:
    """Send the webhook message for this outcome (after its transition committed); a failed send is noted."""
    outcome = outcome_of(status, attempts)
    try:
        messaging.send(WEBHOOK_ACTOR, NOTIFICATIONS_QUEUE, str(report_id), outcome)
    except Exception as exc:  # Redis down: the outcome stays on the timeline, the receiver can poll /status
        log.warning("Job %s webhook could not be queued: %s", report_id, exc)
        lifecycle.note(report_id, "webhook_failed", "webhook could not be queued",
                       {"outcome": outcome, "error": str(exc)[:500]})


def queue_if_wanted(report_id: uuid.UUID) -> None:
    """Queue the webhook of a finished report that has a callback_url (no-op otherwise)."""
    row = db.session.execute(
        select(ReportRequest.callback_url, ReportRequest.status, ReportRequest.attempts)
        .where(ReportRequest.id == report_id)
    ).one_or_none()
    db.session.rollback()
    if row is not None and row.callback_url and row.status in FINAL_STATUSES:
        queue_outcome(report_id, row.status, row.attempts)


def payload(report: ReportRequest, base_url: str) -> dict[str, Any]:
    """The JSON a receiver gets: what finished, how, and where the PDF is."""
    return {
        "id": str(report.id),
        "status": report.status,
        "type": report.report_type,
        "title": report.title,
        "attempts": report.attempts,
        "finished_at": report.finished_at.isoformat() if report.finished_at else None,
        "download_url": f"{base_url}/reports/{report.id}/download" if report.downloadable else None,
        "error": report.error_message if report.status == "FAILED" else None,
    }


def _load(report_id: uuid.UUID, outcome: str) -> tuple[str, bytes] | None:
    """(callback_url, body) when the report still is at this outcome and has a callback_url, else None."""
    try:
        report = db.session.execute(select(ReportRequest).where(ReportRequest.id == report_id)).scalar_one_or_none()
        if report is None or not report.callback_url:
            return None
        if outcome_of(report.status, report.attempts) != outcome:
            # Retried since: the newer outcome sends its own webhook, this one would describe the wrong state.
            lifecycle.note(report_id, "webhook_skipped", f"outcome {outcome} superseded before delivery",
                           {"outcome": outcome})
            return None
        body = json.dumps(payload(report, get_settings().app_base_url), separators=(",", ":")).encode()
        return report.callback_url, body
    finally:
        db.session.rollback()


def deliver(report_id: uuid.UUID, outcome: str, attempt: int, final_attempt: bool) -> str:
    """POST the outcome once; "delivered", "skipped", "already_sent", "busy", "refused", or DeliveryFailed."""
    settings = get_settings().push
    loaded = _load(report_id, outcome)
    if loaded is None or not settings.webhook_secret:
        return "skipped"
    url, body = loaded
    with lifecycle.webhook_claim(report_id, outcome) as claim:
        if claim != "claimed":
            return "already_sent" if claim == "sent" else "busy"
        detail: dict[str, Any] = {"outcome": outcome, "attempt": attempt, "url": url}
        try:
            reply = post_signed(url, body, secret=settings.webhook_secret, allow_private=settings.webhook_allow_private,
                                timeout=settings.webhook_timeout_seconds)
        except UnsafeTarget as exc:
            # Retrying cannot make a refused address acceptable: record it and stop.
            lifecycle.note(report_id, "webhook_failed", f"webhook refused: {exc}", detail | {"error": str(exc)})
            return "refused"
        except (OSError, http.client.HTTPException) as exc:
            _failed(report_id, detail | {"error": f"{type(exc).__name__}: {exc}"[:500]}, final_attempt)
        if not 200 <= reply.status < 300:
            _failed(report_id, detail | {"response_code": reply.status, "response": reply.body}, final_attempt)
        lifecycle.note(report_id, "webhook_delivered", f"webhook delivered (HTTP {reply.status}, attempt {attempt})",
                       detail | {"response_code": reply.status, "response": reply.body})
    log.info("Job %s webhook for %s delivered to %s", report_id, outcome, url)
    return "delivered"


def _failed(report_id: uuid.UUID, detail: dict[str, Any], final_attempt: bool) -> None:
    """Note a failed attempt on the timeline and raise DeliveryFailed for the actor to retry."""
    then = "giving up" if final_attempt else "will retry"
    what = f"HTTP {detail['response_code']}" if "response_code" in detail else detail["error"]
    lifecycle.note(report_id, "webhook_attempt_failed",
                   f"webhook attempt {detail['attempt']} failed ({what}); {then}", detail)
    log.warning("Job %s webhook attempt %s failed: %s", report_id, detail["attempt"], what)
    raise DeliveryFailed(what)
