"""A worker's fenced writes: claim a PENDING report, then progress, heartbeat, finish or fail it.

`claim` issues a fresh run_id; every later write here names it (`run_id = :run_id`), so a worker
whose claim was taken away (a sweeper released it, another worker claimed it) matches no row and
stops at its next write: False/None back, never an exception.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB

from reportsvc import logs, metrics
from reportsvc.logs import JOB_STEP, steps_logged
from reportsvc.state import direct
from reportsvc.state.lifecycle._common import R, _event, _session, _transition, announce, log


@dataclass(frozen=True)
class Claim:
    """A worker's hold on a report: the fencing token plus what the worker needs to run it."""

    report_id: uuid.UUID
    run_id: uuid.UUID
    attempts: int
    report_type: str
    title: str | None
    params: dict[str, Any]
    notify_email: str | None = None
    callback_url: str | None = None
    notify_emails: tuple[str, ...] = ()  # a schedule's recipients (notify_email already names the first)


#: claim's UPDATE and its 'claimed' event as one statement (one round trip), built once. The event row is
#: inserted only when the conditional UPDATE matched (INSERT ... SELECT FROM the UPDATE's RETURNING).
_CLAIM_SQL = (
    "WITH u AS ("
    " UPDATE report_requests SET status = 'RUNNING', updated_at = now(), run_id = :run_id, worker = :worker,"
    " attempts = attempts + 1, heartbeat_at = now(), started_at = now(), finished_at = NULL, progress = 0,"
    " progress_message = 'Starting', error_message = NULL, cancel_requested_at = NULL, cancel_requested_by = NULL,"
    " message_id = coalesce(CAST(:message_id AS VARCHAR), message_id)"
    " WHERE id = :report_id AND status = 'PENDING'"
    # notify_email: the requester's address, else a schedule's first recipient (someone is to be told).
    " RETURNING id, attempts, report_type, title, params,"
    " coalesce(notify_email, notify_emails->>0) AS notify_email, callback_url, notify_emails"
    "), e AS ("
    " INSERT INTO report_events (report_id, kind, from_status, to_status, message, detail)"
    " SELECT id, 'claimed', 'PENDING', 'RUNNING', :message, CAST(:detail AS jsonb) FROM u"
    ")"
    " SELECT attempts, report_type, title, params, notify_email, callback_url, notify_emails FROM u"
)
_CLAIM = text(_CLAIM_SQL).bindparams(bindparam("detail", type_=JSONB)).columns(
    R.c.attempts, R.c.report_type, R.c.title, R.c.params, R.c.notify_email, R.c.callback_url, R.c.notify_emails
)


def claim(report_id: uuid.UUID, *, worker: str, message_id: str | None) -> Claim | None:
    """PENDING -> RUNNING with a fresh run_id; None if the report is not PENDING.

    The conditional UPDATE ... RETURNING and its 'claimed' event in one statement (`_CLAIM`), committed with
    it (the direct path runs it in autocommit); the report type read back by RETURNING reaches the metrics
    before the event is counted (no type lookup).
    """
    run_id = uuid.uuid4()
    detail = {"worker": worker, "run_id": str(run_id), "message_id": message_id}
    values = {"report_id": report_id, "run_id": run_id, "worker": worker, "message_id": message_id,
              "message": f"attempt started on {worker}", "detail": detail}
    row = _claim_direct(values) if direct.enabled() else _claim_session(values)
    if row is None:
        return None
    if steps_logged():  # the report's log capture starts after the claim: only the worker's own log reads this
        log.info("Job %s PENDING -> RUNNING (attempt started on %s)", report_id, worker, extra=JOB_STEP)
    announce(report_id, "RUNNING", "claimed", 0)
    attempts, report_type, title, params, notify_email, callback_url, notify_emails = row
    return Claim(
        report_id=report_id,
        run_id=run_id,
        attempts=attempts,
        report_type=report_type,
        title=title,
        params=dict(params or {}),
        notify_email=notify_email,
        callback_url=callback_url,
        notify_emails=tuple(notify_emails or ()),
    )


def _claim_session(values: dict[str, Any]) -> tuple[Any, ...] | None:
    session = _session()
    try:
        row = session.execute(_CLAIM, values).one_or_none()
        if row is None:
            session.rollback()
            return None
        metrics.remember_type(values["report_id"], row.report_type)
        metrics.note_event(session, values["report_id"], "claimed", "RUNNING", values["detail"])
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return tuple(row)


_CLAIM_DIRECT = direct.pyformat(_CLAIM_SQL)


def _claim_direct(values: dict[str, Any]) -> tuple[Any, ...] | None:
    # One statement, atomic on its own (the UPDATE and its event commit together or not at all): autocommit.
    with direct.autocommit() as conn:
        row = direct.one(conn, _CLAIM_DIRECT, {**values, "detail": direct.as_json(values["detail"])})
    if row is None:
        return None
    metrics.remember_type(values["report_id"], row[1])
    metrics.count_committed(values["report_id"], "claimed", "RUNNING", values["detail"])
    return row


#: The fenced heartbeat and progress UPDATEs, built once (parameters bound per call).
_UNDER_CLAIM = and_(R.c.id == bindparam("b_report_id"), R.c.status == "RUNNING",
                    R.c.run_id == bindparam("b_run_id"))
# Both return the cancel mark, so a worker learns of a cancel request on the writes it makes anyway.
_HEARTBEAT = update(R).where(_UNDER_CLAIM).values(heartbeat_at=func.now()).returning(R.c.cancel_requested_at)
_PROGRESS = update(R).where(_UNDER_CLAIM).values(
    progress=bindparam("b_progress"), progress_message=bindparam("b_message"),
    heartbeat_at=func.now(), updated_at=func.now(),
).returning(R.c.cancel_requested_at)

#: What a fenced heartbeat or progress write found: the claim held, held with a cancel asked for, or lost.
Hold = Literal["held", "cancel", "lost"]


_UNDER_CLAIM_SQL = " WHERE id = %(b_report_id)s AND status = 'RUNNING' AND run_id = %(b_run_id)s"
_HEARTBEAT_DIRECT = ("UPDATE report_requests SET heartbeat_at = now()" + _UNDER_CLAIM_SQL
                     + " RETURNING cancel_requested_at")
_PROGRESS_DIRECT = ("UPDATE report_requests SET progress = %(b_progress)s, progress_message = %(b_message)s,"
                    " heartbeat_at = now(), updated_at = now()" + _UNDER_CLAIM_SQL + " RETURNING cancel_requested_at")


def _hold(stmt: Any, sql: str, values: dict[str, Any]) -> Hold:
    """Run a fenced heartbeat or progress UPDATE (`stmt` on the session, or `sql` directly) and read its answer."""
    if direct.enabled():
        with direct.autocommit() as conn:  # one fenced UPDATE: atomic on its own
            row = direct.one(conn, sql, values)
        if row is None:
            return "lost"
        return "held" if row[0] is None else "cancel"
    session = _session()
    try:
        found = session.execute(stmt, values).one_or_none()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    if found is None:
        return "lost"
    return "held" if found.cancel_requested_at is None else "cancel"


def heartbeat(report_id: uuid.UUID, run_id: uuid.UUID) -> Hold:
    """Refresh the claim's heartbeat: "held", "cancel" (an operator asked to stop) or "lost" (fenced out)."""
    return _hold(_HEARTBEAT, _HEARTBEAT_DIRECT, {"b_report_id": report_id, "b_run_id": run_id})


def progress(report_id: uuid.UUID, run_id: uuid.UUID, percent: int, message: str) -> Hold:
    """Record progress (and heartbeat) under the claim: "held", "cancel" or "lost" as for `heartbeat`."""
    percent = max(0, min(100, int(percent)))
    hold = _hold(_PROGRESS, _PROGRESS_DIRECT, {"b_report_id": report_id, "b_run_id": run_id, "b_progress": percent,
                                               "b_message": message[:500]})
    if hold != "lost":
        announce(report_id, "RUNNING", "progress", percent)
    return hold


def cancel_running(report_id: uuid.UUID, run_id: uuid.UUID) -> bool:
    """RUNNING -> CANCELLED under the claim, only when a cancel was requested; False otherwise.

    The worker calls this when it notices the request: no file was published (READY requires no
    request, so the two cannot both happen) and no email follows. `attempts` stays as the claim left it.
    """
    session = _session()
    mark = session.execute(
        select(R.c.cancel_requested_at, R.c.cancel_requested_by).where(R.c.id == report_id)
    ).one_or_none()
    session.rollback()
    if mark is None or mark.cancel_requested_at is None:
        return False
    by = mark.cancel_requested_by or "unknown"
    row = _transition(
        report_id, "RUNNING", "CANCELLED",
        {"progress_message": "Cancelled", "finished_at": func.now(), "run_id": None},
        run_id=run_id, extra_where=R.c.cancel_requested_at.is_not(None), kind="cancelled",
        message=f"cancelled by {by} while running (asked at {mark.cancel_requested_at.isoformat(timespec='seconds')})",
        detail={"actor": mark.cancel_requested_by, "requested_at": mark.cancel_requested_at.isoformat(),
                "run_id": str(run_id)},
    )
    return row is not None


def finish(
    report_id: uuid.UUID,
    run_id: uuid.UUID,
    *,
    publish: Callable[[], tuple[str, int]],
    expected: tuple[str, int] | None = None,
    type_version: str | None = None,
    sha256: str | None = None,
) -> bool:
    """RUNNING -> READY under the claim, publishing the file while the row is locked.

    `publish` (which renames the finished PDF into place and returns its key and
    size) runs only while this claim holds the row lock and no cancel was requested, so a sweeper that
    takes the report away either waits for us or has already fenced us out:
    a stale worker can never overwrite the final file. False means fenced out.

    The lock is taken by the fenced READY UPDATE itself (it locks the row it changes until the
    commit), so no separate SELECT ... FOR UPDATE is needed. When the caller knows the key and size
    `publish` will return (`expected`), they go into that same UPDATE; otherwise, or if `publish`
    disagrees, a second UPDATE in the same transaction records what was published. Nothing is
    visible to anyone before the commit, which comes after `publish` succeeded; if it raises, the
    transaction rolls back and the report stays RUNNING under this claim.
    `type_version` (the report type's version that rendered the file) and `sha256` (the file's checksum)
    are recorded on the row.
    """
    if expected is not None:
        return _finish_expected(report_id, run_id, publish, expected, type_version, sha256)
    session = _session()
    try:
        held = session.execute(
            update(R)
            .where(R.c.id == report_id, R.c.status == "RUNNING", R.c.run_id == run_id,
                   R.c.cancel_requested_at.is_(None))
            .values(
                status="READY",
                progress=100,
                progress_message="Completed",
                finished_at=func.now(),
                heartbeat_at=func.now(),
                updated_at=func.now(),
                error_message=None,
                report_type_version=type_version,
                file_sha256=sha256,
            )
            .returning(R.c.id)
        ).scalar_one_or_none()
        if held is None:
            session.rollback()
            return False
        file_path, file_size = publish()
        session.execute(update(R).where(R.c.id == report_id).values(file_path=file_path, file_size=file_size))
        _event(session, report_id, "completed", from_status="RUNNING", to_status="READY",
               message="report ready", detail={"file_size": file_size, "run_id": str(run_id)})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return _made_ready(report_id)


def _made_ready(report_id: uuid.UUID) -> bool:
    """After a finish committed READY (each of its three paths): the step line and the live update; True."""
    logs.step(log, "Job %s RUNNING -> READY", report_id)  # under summary: into the report log only
    announce(report_id, "READY", "completed", 100)
    return True


#: finish's fenced READY UPDATE (with the expected file) and its 'completed' event as one statement, built
#: once. The event row exists only when the UPDATE matched; its id comes back (None: fenced out).
_FINISH_SQL = (
    "WITH u AS ("
    " UPDATE report_requests SET status = 'READY', progress = 100, progress_message = 'Completed',"
    " finished_at = now(), heartbeat_at = now(), updated_at = now(), error_message = NULL,"
    " file_path = :file_path, file_size = :file_size, report_type_version = :type_version,"
    " file_sha256 = :file_sha256"
    " WHERE id = :report_id AND status = 'RUNNING' AND run_id = :run_id AND cancel_requested_at IS NULL"
    " RETURNING id"
    "), e AS ("
    " INSERT INTO report_events (report_id, kind, from_status, to_status, message, detail)"
    " SELECT id, 'completed', 'RUNNING', 'READY', 'report ready', CAST(:detail AS jsonb) FROM u"
    " RETURNING id"
    ")"
    " SELECT id FROM e"
)
_FINISH = text(_FINISH_SQL).bindparams(bindparam("detail", type_=JSONB))
_FIX_COMPLETED_SQL = "UPDATE report_events SET detail = CAST(:detail AS jsonb) WHERE id = :event_id"
_FIX_COMPLETED = text(_FIX_COMPLETED_SQL).bindparams(bindparam("detail", type_=JSONB))
_FIX_FILE_SQL = "UPDATE report_requests SET file_path = :file_path, file_size = :file_size WHERE id = :report_id"
_FINISH_DIRECT, _FIX_COMPLETED_DIRECT, _FIX_FILE_DIRECT = (
    direct.pyformat(sql) for sql in (_FINISH_SQL, _FIX_COMPLETED_SQL, _FIX_FILE_SQL))


def _finish_expected(
    report_id: uuid.UUID, run_id: uuid.UUID, publish: Callable[[], tuple[str, int]], expected: tuple[str, int],
    type_version: str | None, sha256: str | None,
) -> bool:
    """finish() when the caller knows the file: the READY UPDATE and its event in one round trip.

    The UPDATE takes the row lock before `publish` runs; both rows become visible only at the commit.
    If `publish` reports another key or size, the row and the event's detail are corrected first.
    """
    if direct.enabled():
        return _finish_direct(report_id, run_id, publish, expected, type_version, sha256)
    session = _session()
    detail = {"file_size": expected[1], "run_id": str(run_id)}
    try:
        event_id = session.execute(_FINISH, {
            "report_id": report_id, "run_id": run_id, "file_path": expected[0], "file_size": expected[1],
            "detail": detail, "type_version": type_version, "file_sha256": sha256,
        }).scalar_one_or_none()
        if event_id is None:
            session.rollback()
            return False
        file_path, file_size = publish()
        if (file_path, file_size) != tuple(expected):
            session.execute(update(R).where(R.c.id == report_id).values(file_path=file_path, file_size=file_size))
            detail = {"file_size": file_size, "run_id": str(run_id)}
            session.execute(_FIX_COMPLETED, {"detail": detail, "event_id": event_id})
        metrics.note_event(session, report_id, "completed", "READY", detail)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return _made_ready(report_id)


def _finish_direct(
    report_id: uuid.UUID, run_id: uuid.UUID, publish: Callable[[], tuple[str, int]], expected: tuple[str, int],
    type_version: str | None, sha256: str | None,
) -> bool:
    """_finish_expected on the connection itself (WORKER_DIRECT_SQL): the same statements in one transaction."""
    detail = {"file_size": expected[1], "run_id": str(run_id)}
    with direct.transaction() as conn:
        row = direct.one(conn, _FINISH_DIRECT, {
            "report_id": report_id, "run_id": run_id, "file_path": expected[0], "file_size": expected[1],
            "detail": direct.as_json(detail), "type_version": type_version, "file_sha256": sha256,
        })
        if row is None:
            return False  # fenced out: the block's commit ends an empty transaction
        file_path, file_size = publish()  # under the row lock the UPDATE took
        if (file_path, file_size) != tuple(expected):
            detail = {"file_size": file_size, "run_id": str(run_id)}
            direct.run(conn, _FIX_FILE_DIRECT, {"file_path": file_path, "file_size": file_size, "report_id": report_id})
            direct.run(conn, _FIX_COMPLETED_DIRECT, {"detail": direct.as_json(detail), "event_id": row[0]})
    metrics.count_committed(report_id, "completed", "READY", detail)
    return _made_ready(report_id)


def fail_attempt(
    report_id: uuid.UUID,
    run_id: uuid.UUID,
    *,
    error: str,
    traceback_text: str | None,
    retry_in_ms: int | None,
    final_note: str = "retries exhausted",
    failed_at: datetime | None = None,
) -> str | None:
    """End a failed attempt: PENDING when a retry follows, FAILED otherwise; None if fenced out.

    `failed_at`: the moment the attempt failed (the worker's clock), which a retry's delay counts from.
    `final_note` is the timeline's word for a FAILED end ("retries exhausted", or why none were tried).
    A report whose cancel was requested ends CANCELLED instead (no retry follows a cancel).
    """
    error = error[:2000]
    detail = {"error": error, "traceback": traceback_text, "run_id": str(run_id), "retry_in_ms": retry_in_ms}
    if failed_at is not None:
        detail["failed_at"] = failed_at.isoformat()
    if retry_in_ms is not None:  # back to PENDING: Dramatiq delivers the retry after the delay
        to_status, message = "PENDING", f"retrying in {retry_in_ms / 1000:g} s"
        values: dict[str, Any] = {"progress_message": f"Attempt failed: {error[:200]}; {message}", "worker": None}
    else:
        to_status, message = "FAILED", final_note
        values = {"progress_message": "Failed", "finished_at": func.now()}
    row = _transition(report_id, "RUNNING", to_status, {**values, "error_message": error, "run_id": None},
                      run_id=run_id, extra_where=R.c.cancel_requested_at.is_(None), kind="attempt_failed",
                      message=message, detail=detail)
    if row is not None:
        return to_status
    return "CANCELLED" if cancel_running(report_id, run_id) else None
