"""Operator and API transitions: create a report, record its message, cancel, retry, requeue from dead letters.

Each is called by the service layer (reportsvc.ops), which sends the report's message after the
row commits (outbox order: a row whose send failed stays PENDING for the reconciler).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from reportsvc import metrics
from reportsvc.state import direct
from reportsvc.state.lifecycle._common import (
    E,
    Outcome,
    R,
    _event,
    _session,
    _transition,
    announce,
    current_status,
    log,
)
from reportsvc.state.models import ReportRequest


def _commit_keeping_loaded(session: Session) -> None:
    """Commit without expiring loaded objects.

    The API reads `report.id` right after create() and again after record_message(); with the
    default expire-on-commit each read reloaded the whole row in a new transaction (a pool checkout,
    a pre-ping and a SELECT: two extra round trips per POST /reports). What we wrote is what the row
    holds, so there is nothing stale to reload.
    """
    previous = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = previous


#: create()'s INSERT and its 'created' event as one statement, in psycopg's own format (run on the driver
#: connection: reportsvc.state.direct.autocommit). One statement is atomic on its own, so it runs in
#: autocommit: no BEGIN and COMMIT round trips on the API's hottest write.
_CREATE = (
    "WITH r AS ("
    " INSERT INTO report_requests (id, status, progress, progress_message, report_type, title, params,"
    " notify_email, requested_by, message_id, callback_url, schedule_id, scheduled_for, schedule_name,"
    " notify_emails, priority)"
    " VALUES (%(id)s, 'PENDING', 0, 'Queued', %(report_type)s, %(title)s, %(params)s, %(notify_email)s,"
    " %(requested_by)s, %(message_id)s, %(callback_url)s, %(schedule_id)s, %(scheduled_for)s, %(schedule_name)s,"
    " %(notify_emails)s, %(priority)s)"
    # A schedule's slot that already has its report (another scheduler, a retry after a crash): no row.
    " ON CONFLICT ON CONSTRAINT uq_report_requests_schedule_slot DO NOTHING"
    " RETURNING id, created_at, updated_at"
    "), e AS ("
    " INSERT INTO report_events (report_id, kind, to_status, message, detail)"
    " SELECT id, 'created', 'PENDING', 'Report requested', %(detail)s FROM r"
    ")"
    " SELECT created_at, updated_at FROM r"
)


@dataclass(frozen=True)
class ScheduleLink:
    """What ties a new report to its schedule: the schedule, the slot (None: "run now"), whom to email."""

    schedule_id: uuid.UUID | None
    scheduled_for: datetime | None
    schedule_name: str | None
    recipients: Sequence[str] = ()


class SlotTaken(Exception):
    """The schedule's slot already has its report (the unique (schedule_id, scheduled_for) key said so)."""

    def __init__(self, schedule_id: uuid.UUID | None, scheduled_for: datetime | None) -> None:
        super().__init__(f"schedule {schedule_id} already has a report for {scheduled_for}")
        self.schedule_id = schedule_id
        self.scheduled_for = scheduled_for


def create(
    *,
    report_type: str,
    title: str | None,
    params: dict[str, Any],
    notify_email: str | None,
    requested_by: str | None,
    report_id: uuid.UUID | None = None,
    message_id: str | None = None,
    callback_url: str | None = None,
    schedule: ScheduleLink | None = None,
    priority: str = "interactive",
    publish: bool = True,
) -> ReportRequest:
    """Insert a PENDING report and its 'created' event; the caller sends the message after this returns.

    `message_id` is the id of the message the caller will send once the row exists (built before the
    INSERT so the row carries it from the start, and a worker never sees a message whose row does not
    name it). A caller whose send then fails clears it with `record_message(report_id, None,
    expected=message_id)`.

    With `schedule`, the report is that schedule's (for one slot, or "run now" when the slot is None);
    a slot that already has its report raises `SlotTaken` and inserts nothing.

    `publish=False` leaves the console event (`announce`) to the caller, which sends it in a round trip
    of its own making (`announce_on`: the API's rides on the enqueue's pipeline).
    """
    values: dict[str, Any] = {
        "id": report_id or uuid.uuid4(),
        "report_type": report_type,
        "title": title,
        "params": params,
        "notify_email": notify_email,
        "requested_by": requested_by,
        "message_id": message_id,
        "callback_url": callback_url,
        "priority": priority,
    }
    link = schedule or ScheduleLink(None, None, None, ())
    columns = {"schedule_id": link.schedule_id, "scheduled_for": link.scheduled_for,
               "schedule_name": link.schedule_name, "notify_emails": list(link.recipients)}
    detail: dict[str, Any] = {"report_type": report_type, "requested_by": requested_by}
    if priority != "interactive":
        detail["priority"] = priority
    if link.schedule_id is not None:
        detail |= {"schedule_id": str(link.schedule_id), "schedule": link.schedule_name,
                   "scheduled_for": link.scheduled_for.isoformat() if link.scheduled_for else None}
    # Its own autocommit connection, not the request's session: the statement commits as it runs, and
    # whatever the session holds stays out of it.
    with direct.autocommit() as conn:
        row = direct.one(conn, _CREATE, {**values, **columns, "params": Jsonb(params),
                                         "notify_emails": Jsonb(columns["notify_emails"]), "detail": Jsonb(detail)})
    if row is None:
        raise SlotTaken(link.schedule_id, link.scheduled_for)
    created_at, updated_at = row
    metrics.count_committed(values["id"], "created", "PENDING", detail)
    if publish:
        announce(values["id"], "PENDING", "created", 0)
    # What the row now holds, as a (session-less) model object for the caller: the values set as loaded ones
    # (nothing pending, as after a SELECT), without the instrumented constructor's event per attribute.
    report: ReportRequest = ReportRequest.__mapper__.class_manager.new_instance()
    report.__dict__.update(values, **columns, status="PENDING", progress=0, progress_message="Queued",
                           created_at=created_at, updated_at=updated_at, attempts=0, stall_count=0, file_path=None,
                           error_message=None, run_id=None, worker=None, heartbeat_at=None, started_at=None,
                           finished_at=None, file_size=None, file_expired_at=None, file_sha256=None)
    return report


def record_message(report_id: uuid.UUID, message_id: str | None, *, expected: str | None = None) -> bool:
    """Remember the Dramatiq message id that currently carries the report (None: no message does).

    With `expected`, only when the row still names that message (so clearing a message id whose send
    failed never erases one a concurrent re-send recorded). True when the row was updated.
    """
    session = _session()
    stmt = update(R).where(R.c.id == report_id)
    if expected is not None:
        stmt = stmt.where(R.c.message_id == expected)
    try:
        updated = session.execute(stmt.values(message_id=message_id)).rowcount  # type: ignore[attr-defined]
        _commit_keeping_loaded(session)
    except BaseException:
        session.rollback()
        raise
    return bool(updated)


def cancel(report_id: uuid.UUID, *, actor: str | None) -> Outcome:
    """PENDING -> CANCELLED at once; RUNNING gets a cancel request its worker acts on (see `cancel_running`).

    Repeating either is a success that changes nothing. READY/FAILED are refused (ok False).
    """
    row = _transition(
        report_id,
        "PENDING",
        "CANCELLED",
        {"progress_message": "Cancelled", "finished_at": func.now()},
        kind="cancelled",
        message=f"cancelled by {actor or 'unknown'}",
        detail={"actor": actor},
    )
    if row is not None:
        return Outcome(True, "CANCELLED", changed=True)
    if _request_cancel(report_id, actor):
        return Outcome(True, "RUNNING", changed=True, cancel_requested=True)
    status, marked = _status_and_mark(report_id)
    if status == "RUNNING" and marked:
        return Outcome(True, "RUNNING", cancel_requested=True)
    return Outcome(status == "CANCELLED", status)


def _request_cancel(report_id: uuid.UUID, actor: str | None) -> bool:
    """Mark a RUNNING report as to be cancelled (first request only), with its 'cancel_requested' event.

    No status change: the worker holding the claim (or the stall sweep, if that worker died) makes
    the RUNNING -> CANCELLED transition. The mark is one conditional UPDATE, so it and the worker's
    READY (which requires no mark) serialize on the row: exactly one of them wins.
    """
    session = _session()
    try:
        row = session.execute(
            update(R)
            .where(R.c.id == report_id, R.c.status == "RUNNING", R.c.cancel_requested_at.is_(None))
            .values(cancel_requested_at=func.now(), cancel_requested_by=actor, updated_at=func.now(),
                    progress_message="Cancelling")
            .returning(R.c.run_id)
        ).one_or_none()
        if row is None:
            session.rollback()
            return False
        _event(session, report_id, "cancel_requested", message=f"cancel requested by {actor or 'unknown'}",
               detail={"actor": actor, "run_id": str(row.run_id) if row.run_id else None})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    log.info("Job %s cancel requested by %s while RUNNING", report_id, actor or "unknown")
    return True


def _status_and_mark(report_id: uuid.UUID) -> tuple[str | None, bool]:
    """The report's status now and whether a cancel request waits on it (read together)."""
    session = _session()
    row = session.execute(select(R.c.status, R.c.cancel_requested_at).where(R.c.id == report_id)).one_or_none()
    session.rollback()
    return (None, False) if row is None else (row.status, row.cancel_requested_at is not None)


def retry(report_id: uuid.UUID, *, actor: str | None, reason: str = "manual retry") -> Outcome:
    """FAILED -> PENDING for another full set of attempts; the caller sends a new message."""
    row = _transition(
        report_id,
        "FAILED",
        "PENDING",
        {
            "progress": 0,
            "progress_message": "Queued (retry)",
            "error_message": None,
            "finished_at": None,
            "stall_count": 0,
            "run_id": None,
            "worker": None,
            "cancel_requested_at": None,
            "cancel_requested_by": None,
        },
        kind="retried",
        message=f"{reason} by {actor or 'unknown'}",
        detail={"actor": actor, "reason": reason},
    )
    if row is not None:
        return Outcome(True, "PENDING", changed=True)
    return Outcome(False, current_status(report_id))


# -- dead-letter operations (called by reportsvc.ops.deadletters) ----------------------------------

_REQUEUE_VALUES: dict[str, Any] = {
    "progress": 0,
    "progress_message": "Queued (requeued from dead letters)",
    "error_message": None,
    "finished_at": None,
    "stall_count": 0,
    "run_id": None,
    "worker": None,
    "cancel_requested_at": None,
    "cancel_requested_by": None,
}


def requeued_from_dead_many(
    report_ids: list[uuid.UUID], *, actor: str | None, detail: dict[str, Any] | None = None,
    message_ids: dict[uuid.UUID, str] | None = None, priority: str | None = None,
) -> set[uuid.UUID]:
    """FAILED -> PENDING for every given report still FAILED, in one UPDATE and one transaction.

    Returns the ids that moved; the others (not FAILED any more, or missing) are untouched. Each
    moved report gets a 'requeued' event. `attempts` is not reset: it counts attempts for life.
    With `priority`, the same UPDATE moves the report to that lane (the caller moves its letter there).
    The caller moves the dead letter (or sends a fresh message) after this commits.
    """
    ids = list(dict.fromkeys(report_ids))
    if not ids:
        return set()
    session = _session()
    message = f"requeued from dead letters by {actor or 'unknown'}"
    lane: dict[str, Any] = {}
    if priority is not None:
        message += f" to the {priority} lane"
        lane = {"priority": priority}
    try:
        rows = session.execute(
            update(R)
            .where(R.c.id.in_(ids), R.c.status == "FAILED")
            .values(status="PENDING", updated_at=func.now(), **_REQUEUE_VALUES, **lane)
            .returning(R.c.id)
        ).all()
        moved = {row.id for row in rows}
        carried = [{"rid": rid, "mid": message_ids[rid]} for rid in moved if message_ids and rid in message_ids]
        if carried:
            # The requeued letter is the live message now, even if a newer one (a manual retry) was recorded.
            session.execute(
                update(R).where(R.c.id == bindparam("rid")).values(message_id=bindparam("mid")), carried
            )
        if moved:
            session.execute(
                insert(E),
                [
                    {
                        "report_id": rid,
                        "kind": "requeued",
                        "from_status": "FAILED",
                        "to_status": "PENDING",
                        "message": message,
                        "detail": {"actor": actor, **lane, **(detail or {})},
                    }
                    for rid in moved
                ],
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    for rid in moved:
        log.info("Job %s FAILED -> PENDING (%s)", rid, message)
        announce(rid, "PENDING", "requeued")
    return moved


def requeued_from_dead(report_id: uuid.UUID, *, actor: str | None, detail: dict[str, Any] | None = None) -> Outcome:
    """FAILED -> PENDING for one report whose dead letter an operator requeues ('requeued' event)."""
    if report_id in requeued_from_dead_many([report_id], actor=actor, detail=detail):
        return Outcome(True, "PENDING")
    return Outcome(False, current_status(report_id))
