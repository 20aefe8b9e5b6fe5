"""The bottom of the lifecycle package: what every transition shares, importing no sibling.

The tables, the session, the Outcome type, the event INSERT and `_transition` (one conditional
UPDATE plus its event, committed together), and the status read the refusals report back.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.orm import Session

from reportsvc import metrics
from reportsvc.extensions import db
from reportsvc.names import COUNTS_GENERATION_KEY, EVENTS_CHANNEL
from reportsvc.state import live_updates
from reportsvc.state.models import ReportEvent, ReportRequest

# One logger for the whole package, named as the module was before the split, so log lines and any
# logging configuration that names it are unchanged.
log = logging.getLogger("reportsvc.state.lifecycle")

R = ReportRequest.__table__
E = ReportEvent.__table__


@dataclass(frozen=True)
class Outcome:
    """Result of an operator-facing transition: did it happen, and the status now."""

    ok: bool
    status: str | None  # None when the report does not exist
    changed: bool = False  # this call made the transition (False for a refusal or an idempotent repeat)
    cancel_requested: bool = False  # RUNNING with a cancel asked for: its worker stops at its next check


#: After a failed publish, transitions skip publishing this long (the console polls meanwhile).
ANNOUNCE_PAUSE_SECONDS = live_updates.PAUSE_SECONDS
_quiet_until = 0.0


def announce(report_id: uuid.UUID, status: str | None, kind: str, progress: int | None = None) -> None:
    """Tell open console streams that a report changed (called after the commit; best effort).

    Redis pub/sub to the web processes' event streams (reportsvc.web.console_events). A lost message costs
    only speed: the console still polls as its fallback, and a reconnecting stream resyncs. In a worker
    process with LIVE_UPDATE_BATCH_MS the event is queued for its batcher (`reportsvc.state.live_updates`).
    """
    from reportsvc.redis_client import get_redis

    global _quiet_until
    if time.monotonic() < _quiet_until:
        return
    event = _event_json(report_id, status, kind, progress)
    if live_updates.submit(event):
        return
    try:
        pipe = get_redis().pipeline(transaction=False)
        _queue_event(pipe, event)
        pipe.execute()
    except Exception as exc:  # never let the live view fail a transition that committed
        # Redis is down: stop trying for a while, or every transition would wait out a connect timeout.
        _quiet_until = time.monotonic() + ANNOUNCE_PAUSE_SECONDS
        log.debug("Job %s event not published: %s", report_id, exc)


def announce_on(pipe: Any, report_id: uuid.UUID, status: str | None, kind: str, progress: int | None = None) -> None:
    """Queue `announce`'s commands on a pipeline the caller sends (e.g. riding on the enqueue's)."""
    _queue_event(pipe, _event_json(report_id, status, kind, progress))


def _queue_event(pipe: Any, event: str) -> None:
    # The counts generation first, which makes every process's cached tab counts stale, then the event: a
    # stream that refreshes on the event never reads counts older than its rows (the batcher's order too).
    pipe.incr(COUNTS_GENERATION_KEY)
    pipe.publish(EVENTS_CHANNEL, event)


def _event_json(report_id: uuid.UUID, status: str | None, kind: str, progress: int | None) -> str:
    return json.dumps({"type": "report", "id": str(report_id), "status": status, "kind": kind, "progress": progress,
                       "at": time.time()})


def _session() -> Session:
    return db.session()  # the scoped session's current Session


def _event(
    session: Session,
    report_id: uuid.UUID,
    kind: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
    message: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    detail = detail or {}
    # One prebuilt statement, always the same parameter keys: compiled once, cached by SQLAlchemy.
    # It carries no .values(), so metrics' statement hook skips it: the event is noted explicitly.
    session.execute(_INSERT_EVENT, {"report_id": report_id, "kind": kind, "from_status": from_status,
                                    "to_status": to_status, "message": message, "detail": detail})
    metrics.note_event(session, report_id, kind, to_status, detail)


#: The event INSERT, built once (parameters bound per call).
_INSERT_EVENT = insert(E)


def _transition(
    report_id: uuid.UUID,
    from_status: str,
    to_status: str,
    values: dict[str, Any],
    *,
    run_id: uuid.UUID | None = None,
    extra_where: Any = None,
    kind: str = "status",
    message: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Any:
    """One conditional UPDATE plus its event, committed together; the new row or None."""
    session = _session()
    conditions = [R.c.id == report_id, R.c.status == from_status]
    if run_id is not None:
        conditions.append(R.c.run_id == run_id)
    if extra_where is not None:
        conditions.append(extra_where)
    stmt = (
        update(R)
        .where(and_(*conditions))
        .values(status=to_status, updated_at=func.now(), **values)
        .returning(R)
    )
    try:
        row = session.execute(stmt).one_or_none()
        if row is None:
            session.rollback()
            return None
        _event(
            session,
            report_id,
            kind,
            from_status=from_status,
            to_status=to_status,
            message=message,
            detail=detail,
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    log.info("Job %s %s -> %s%s", report_id, from_status, to_status, f" ({message})" if message else "")
    announce(report_id, to_status, kind)
    return row


def current_status(report_id: uuid.UUID) -> str | None:
    """The report's status now, or None if it does not exist."""
    session = _session()
    status = session.execute(select(R.c.status).where(R.c.id == report_id)).scalar_one_or_none()
    session.rollback()
    return status
