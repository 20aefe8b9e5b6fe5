"""The report state machine: the only code that writes `report_requests.status`.

Every transition is one conditional UPDATE ... WHERE status = :expected
(plus `run_id = :run_id` for a worker's writes) ... RETURNING, and the
matching `report_events` row is inserted in the same transaction. Zero rows
back means someone else won the race: callers get None/False, never an
exception, and the row is untouched.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from reportsvc import metrics
from reportsvc.extensions import db
from reportsvc.state.models import ReportEvent, ReportRequest

log = logging.getLogger("reportsvc.state.lifecycle")

R = ReportRequest.__table__
E = ReportEvent.__table__


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


@dataclass(frozen=True)
class Outcome:
    """Result of an operator-facing transition: did it happen, and the status now."""

    ok: bool
    status: str | None  # None when the report does not exist
    changed: bool = False  # this call made the transition (False for a refusal or an idempotent repeat)


def _session() -> Session:
    return db.session()  # the scoped session's current Session


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
    return row


#: create()'s INSERT and its 'created' event as one statement, built once. One statement is atomic on its
#: own, so it runs in autocommit: no BEGIN and COMMIT round trips on the API's hottest write.
_CREATE = text(
    "WITH r AS ("
    " INSERT INTO report_requests (id, status, progress, progress_message, report_type, title, params,"
    " notify_email, requested_by, message_id)"
    " VALUES (:id, 'PENDING', 0, 'Queued', :report_type, :title, :params, :notify_email, :requested_by,"
    " :message_id)"
    " RETURNING id, created_at, updated_at"
    "), e AS ("
    " INSERT INTO report_events (report_id, kind, to_status, message, detail)"
    " SELECT id, 'created', 'PENDING', 'Report requested', :detail FROM r"
    ")"
    " SELECT created_at, updated_at FROM r"
).bindparams(bindparam("params", type_=JSONB), bindparam("detail", type_=JSONB)).columns(
    R.c.created_at, R.c.updated_at
)


def create(
    *,
    report_type: str,
    title: str | None,
    params: dict[str, Any],
    notify_email: str | None,
    requested_by: str | None,
    report_id: uuid.UUID | None = None,
    message_id: str | None = None,
) -> ReportRequest:
    """Insert a PENDING report and its 'created' event; the caller sends the message after this returns.

    `message_id` is the id of the message the caller will send once the row exists (built before the
    INSERT so the row carries it from the start, and a worker never sees a message whose row does not
    name it). A caller whose send then fails clears it with `record_message(report_id, None,
    expected=message_id)`.
    """
    values: dict[str, Any] = {
        "id": report_id or uuid.uuid4(),
        "report_type": report_type,
        "title": title,
        "params": params,
        "notify_email": notify_email,
        "requested_by": requested_by,
        "message_id": message_id,
    }
    detail = {"report_type": report_type, "requested_by": requested_by}
    # Its own autocommit connection, not the request's session: the statement commits as it runs, and
    # whatever the session holds stays out of it.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        created_at, updated_at = conn.execute(_CREATE, {**values, "detail": detail}).one()
    metrics.count_committed(values["id"], "created", "PENDING", detail)
    # What the row now holds, as a (session-less) model object for the caller.
    return ReportRequest(**values, status="PENDING", progress=0, progress_message="Queued", created_at=created_at,
                         updated_at=updated_at, attempts=0, stall_count=0, file_path=None, error_message=None,
                         run_id=None, worker=None, heartbeat_at=None, started_at=None, finished_at=None,
                         file_size=None, file_expired_at=None)


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


#: claim's UPDATE and its 'claimed' event as one statement (one round trip), built once. The event row is
#: inserted only when the conditional UPDATE matched (INSERT ... SELECT FROM the UPDATE's RETURNING).
_CLAIM = text(
    "WITH u AS ("
    " UPDATE report_requests SET status = 'RUNNING', updated_at = now(), run_id = :run_id, worker = :worker,"
    " attempts = attempts + 1, heartbeat_at = now(), started_at = now(), finished_at = NULL, progress = 0,"
    " progress_message = 'Starting', error_message = NULL,"
    " message_id = coalesce(CAST(:message_id AS VARCHAR), message_id)"
    " WHERE id = :report_id AND status = 'PENDING'"
    " RETURNING id, attempts, report_type, title, params, notify_email"
    "), e AS ("
    " INSERT INTO report_events (report_id, kind, from_status, to_status, message, detail)"
    " SELECT id, 'claimed', 'PENDING', 'RUNNING', :message, :detail FROM u"
    ")"
    " SELECT attempts, report_type, title, params, notify_email FROM u"
).bindparams(bindparam("detail", type_=JSONB)).columns(
    R.c.attempts, R.c.report_type, R.c.title, R.c.params, R.c.notify_email
)


def claim(report_id: uuid.UUID, *, worker: str, message_id: str | None) -> Claim | None:
    """PENDING -> RUNNING with a fresh run_id; None if the report is not PENDING.

    The conditional UPDATE ... RETURNING and its 'claimed' event in one statement (`_CLAIM`), then the
    commit; the report type read back by RETURNING reaches the metrics before the commit (no type lookup).
    """
    run_id = uuid.uuid4()
    session = _session()
    detail = {"worker": worker, "run_id": str(run_id), "message_id": message_id}
    try:
        row = session.execute(_CLAIM, {
            "report_id": report_id, "run_id": run_id, "worker": worker, "message_id": message_id,
            "message": f"attempt started on {worker}", "detail": detail,
        }).one_or_none()
        if row is None:
            session.rollback()
            return None
        metrics.remember_type(report_id, row.report_type)
        metrics.note_event(session, report_id, "claimed", "RUNNING", detail)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    log.info("Job %s PENDING -> RUNNING (attempt started on %s)", report_id, worker)
    return Claim(
        report_id=report_id,
        run_id=run_id,
        attempts=row.attempts,
        report_type=row.report_type,
        title=row.title,
        params=dict(row.params or {}),
        notify_email=row.notify_email,
    )


#: The fenced heartbeat and progress UPDATEs, built once (parameters bound per call).
_UNDER_CLAIM = and_(R.c.id == bindparam("b_report_id"), R.c.status == "RUNNING",
                    R.c.run_id == bindparam("b_run_id"))
_HEARTBEAT = update(R).where(_UNDER_CLAIM).values(heartbeat_at=func.now())
_PROGRESS = update(R).where(_UNDER_CLAIM).values(
    progress=bindparam("b_progress"), progress_message=bindparam("b_message"),
    heartbeat_at=func.now(), updated_at=func.now(),
)


def heartbeat(report_id: uuid.UUID, run_id: uuid.UUID) -> bool:
    """Refresh the claim's heartbeat; False means the claim was lost (fenced out)."""
    session = _session()
    try:
        result = session.execute(_HEARTBEAT, {"b_report_id": report_id, "b_run_id": run_id})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return bool(result.rowcount)  # type: ignore[attr-defined]


def progress(report_id: uuid.UUID, run_id: uuid.UUID, percent: int, message: str) -> bool:
    """Record progress (and heartbeat) under the claim; False means fenced out."""
    session = _session()
    try:
        result = session.execute(_PROGRESS, {"b_report_id": report_id, "b_run_id": run_id,
                                             "b_progress": max(0, min(100, int(percent))), "b_message": message[:500]})
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return bool(result.rowcount)  # type: ignore[attr-defined]


def finish(
    report_id: uuid.UUID,
    run_id: uuid.UUID,
    *,
    publish: Callable[[], tuple[str, int]],
    expected: tuple[str, int] | None = None,
) -> bool:
    """RUNNING -> READY under the claim, publishing the file while the row is locked.

    `publish` (which renames the finished PDF into place and returns its key and
    size) runs only while this claim holds the row lock, so a sweeper that
    takes the report away either waits for us or has already fenced us out:
    a stale worker can never overwrite the final file. False means fenced out.

    The lock is taken by the fenced READY UPDATE itself (it locks the row it changes until the
    commit), so no separate SELECT ... FOR UPDATE is needed. When the caller knows the key and size
    `publish` will return (`expected`), they go into that same UPDATE; otherwise, or if `publish`
    disagrees, a second UPDATE in the same transaction records what was published. Nothing is
    visible to anyone before the commit, which comes after `publish` succeeded; if it raises, the
    transaction rolls back and the report stays RUNNING under this claim.
    """
    if expected is not None:
        return _finish_expected(report_id, run_id, publish, expected)
    session = _session()
    try:
        held = session.execute(
            update(R)
            .where(R.c.id == report_id, R.c.status == "RUNNING", R.c.run_id == run_id)
            .values(
                status="READY",
                progress=100,
                progress_message="Completed",
                finished_at=func.now(),
                heartbeat_at=func.now(),
                updated_at=func.now(),
                error_message=None,
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
    log.info("Job %s RUNNING -> READY", report_id)
    return True


#: finish's fenced READY UPDATE (with the expected file) and its 'completed' event as one statement, built
#: once. The event row exists only when the UPDATE matched; its id comes back (None: fenced out).
_FINISH = text(
    "WITH u AS ("
    " UPDATE report_requests SET status = 'READY', progress = 100, progress_message = 'Completed',"
    " finished_at = now(), heartbeat_at = now(), updated_at = now(), error_message = NULL,"
    " file_path = :file_path, file_size = :file_size"
    " WHERE id = :report_id AND status = 'RUNNING' AND run_id = :run_id"
    " RETURNING id"
    "), e AS ("
    " INSERT INTO report_events (report_id, kind, from_status, to_status, message, detail)"
    " SELECT id, 'completed', 'RUNNING', 'READY', 'report ready', :detail FROM u"
    " RETURNING id"
    ")"
    " SELECT id FROM e"
).bindparams(bindparam("detail", type_=JSONB))

_FIX_COMPLETED = text("UPDATE report_events SET detail = :detail WHERE id = :event_id").bindparams(
    bindparam("detail", type_=JSONB)
)


def _finish_expected(
    report_id: uuid.UUID, run_id: uuid.UUID, publish: Callable[[], tuple[str, int]], expected: tuple[str, int]
) -> bool:
    """finish() when the caller knows the file: the READY UPDATE and its event in one round trip.

    The UPDATE takes the row lock before `publish` runs; both rows become visible only at the commit.
    If `publish` reports another key or size, the row and the event's detail are corrected first.
    """
    session = _session()
    detail = {"file_size": expected[1], "run_id": str(run_id)}
    try:
        event_id = session.execute(_FINISH, {
            "report_id": report_id, "run_id": run_id, "file_path": expected[0], "file_size": expected[1],
            "detail": detail,
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
    log.info("Job %s RUNNING -> READY", report_id)
    return True


def fail_attempt(
    report_id: uuid.UUID,
    run_id: uuid.UUID,
    *,
    error: str,
    traceback_text: str | None,
    retry_in_ms: int | None,
) -> str | None:
    """End a failed attempt: PENDING when a retry follows, FAILED otherwise; None if fenced out."""
    error = error[:2000]
    detail = {"error": error, "traceback": traceback_text, "run_id": str(run_id), "retry_in_ms": retry_in_ms}
    if retry_in_ms is not None:
        note = f"retrying in {retry_in_ms / 1000:g} s"
        row = _transition(
            report_id,
            "RUNNING",
            "PENDING",
            {
                "progress_message": f"Attempt failed: {error[:200]}; {note}",
                "error_message": error,
                "run_id": None,
                "worker": None,
            },
            run_id=run_id,
            kind="attempt_failed",
            message=note,
            detail=detail,
        )
        return None if row is None else "PENDING"
    row = _transition(
        report_id,
        "RUNNING",
        "FAILED",
        {
            "progress_message": "Failed",
            "error_message": error,
            "finished_at": func.now(),
            "run_id": None,
        },
        run_id=run_id,
        kind="attempt_failed",
        message="retries exhausted",
        detail=detail,
    )
    return None if row is None else "FAILED"


def cancel(report_id: uuid.UUID, *, actor: str | None) -> Outcome:
    """PENDING -> CANCELLED; repeating it on a CANCELLED report is a success that changes nothing."""
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
    status = current_status(report_id)
    return Outcome(status == "CANCELLED", status)


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
        },
        kind="retried",
        message=f"{reason} by {actor or 'unknown'}",
        detail={"actor": actor, "reason": reason},
    )
    if row is not None:
        return Outcome(True, "PENDING", changed=True)
    return Outcome(False, current_status(report_id))


def release_stalled(
    report_id: uuid.UUID, run_id: uuid.UUID, *, max_stalled: int, idle_seconds: float
) -> str | None:
    """A RUNNING report whose heartbeat went stale: back to PENDING, or FAILED past the limit."""
    session = _session()
    current = session.execute(
        select(R.c.stall_count).where(R.c.id == report_id, R.c.run_id == run_id, R.c.status == "RUNNING")
    ).scalar_one_or_none()
    session.rollback()
    if current is None:
        return None
    stalls = current + 1
    detail = {"run_id": str(run_id), "idle_seconds": round(idle_seconds, 1), "stall": stalls}
    if stalls > max_stalled:
        text = f"stalled {stalls} times (worker lost)"
        row = _transition(
            report_id, "RUNNING", "FAILED",
            {"stall_count": stalls, "error_message": text, "progress_message": "Failed",
             "finished_at": func.now(), "run_id": None},
            run_id=run_id, kind="stalled", message=text, detail=detail,
        )
        return None if row is None else "FAILED"
    row = _transition(
        report_id, "RUNNING", "PENDING",
        {"stall_count": stalls, "progress_message": f"Stalled (no heartbeat for {idle_seconds:.0f} s); requeued",
         "run_id": None, "worker": None},
        run_id=run_id, kind="stalled",
        message=f"no heartbeat for {idle_seconds:.0f} s, stall {stalls}/{max_stalled}, moved back to waiting",
        detail=detail,
    )
    return None if row is None else "PENDING"


def note(report_id: uuid.UUID, kind: str, message: str, detail: dict[str, Any] | None = None) -> None:
    """Append a timeline entry that changes no state (emails, requeues, skips)."""
    session = _session()
    try:
        _event(session, report_id, kind, message=message, detail=detail)
        session.commit()
    except BaseException:
        session.rollback()
        raise


# -- retention (called by reportsvc.ops.retention) -----------------------------------------------

#: Mark finished reports' files expired and add their 'file_expired' events, as one statement built once.
#: SKIP LOCKED: a row another purger (or anyone) holds is left for the next run instead of waited for.
#: The row keeps naming its file until the caller has deleted it (forget_expired_files), so a crash in
#: between leaves a row that says "expired" and still names the file: the next run deletes it then.
_EXPIRE_FILES = text(
    "WITH picked AS ("
    " SELECT id FROM report_requests"
    " WHERE id = ANY(:ids) AND status IN ('READY', 'FAILED', 'CANCELLED')"
    " AND file_path IS NOT NULL AND file_expired_at IS NULL"
    " FOR UPDATE SKIP LOCKED"
    "), u AS ("
    " UPDATE report_requests r SET file_expired_at = now(), updated_at = now()"
    " FROM picked WHERE r.id = picked.id"
    " RETURNING r.id, r.file_path, r.file_size"
    "), e AS ("
    " INSERT INTO report_events (report_id, kind, message, detail)"
    " SELECT id, 'file_expired', :message,"
    " jsonb_build_object('file_path', file_path, 'file_size', file_size) || :detail FROM u"
    ")"
    " SELECT id, file_path FROM u"
).bindparams(bindparam("detail", type_=JSONB)).columns(R.c.id, R.c.file_path)

#: Stop naming files that are gone; only rows already marked expired (never a live download).
_FORGET_FILES = text(
    "UPDATE report_requests SET file_path = NULL, updated_at = now()"
    " WHERE id = ANY(:ids) AND file_expired_at IS NOT NULL AND file_path IS NOT NULL"
    " RETURNING id"
)


def expire_files(report_ids: list[uuid.UUID], *, reason: str,
                 detail: dict[str, Any] | None = None) -> dict[uuid.UUID, str]:
    """Mark the files of these finished reports expired (one 'file_expired' event each); {id: file key} marked.

    Status is unchanged. Only finished reports that still name a file not yet marked are touched;
    rows locked by someone else are skipped. The caller deletes the returned files, then calls
    `forget_expired_files` with the ids whose file is gone.
    """
    ids = list(dict.fromkeys(report_ids))
    if not ids:
        return {}
    session = _session()
    try:
        rows = session.execute(_EXPIRE_FILES, {"ids": ids, "message": reason, "detail": detail or {}}).all()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    for row in rows:
        log.debug("Job %s file %s expired (%s)", row.id, row.file_path, reason)
    return {row.id: row.file_path for row in rows}


def forget_expired_files(report_ids: list[uuid.UUID]) -> int:
    """Clear file_path on expired reports whose file has been deleted; how many rows changed."""
    ids = list(dict.fromkeys(report_ids))
    if not ids:
        return 0
    session = _session()
    try:
        changed = len(session.execute(_FORGET_FILES, {"ids": ids}).all())
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return changed


def current_status(report_id: uuid.UUID) -> str | None:
    """The report's status now, or None if it does not exist."""
    session = _session()
    status = session.execute(select(R.c.status).where(R.c.id == report_id)).scalar_one_or_none()
    session.rollback()
    return status


# -- dead-letter operations (called by reportsvc.ops.deadletters) ----------------------------------

_REQUEUE_VALUES: dict[str, Any] = {
    "progress": 0,
    "progress_message": "Queued (requeued from dead letters)",
    "error_message": None,
    "finished_at": None,
    "stall_count": 0,
    "run_id": None,
    "worker": None,
}


def requeued_from_dead_many(
    report_ids: list[uuid.UUID], *, actor: str | None, detail: dict[str, Any] | None = None,
    message_ids: dict[uuid.UUID, str] | None = None,
) -> set[uuid.UUID]:
    """FAILED -> PENDING for every given report still FAILED, in one UPDATE and one transaction.

    Returns the ids that moved; the others (not FAILED any more, or missing) are untouched. Each
    moved report gets a 'requeued' event. `attempts` is not reset: it counts attempts for life.
    The caller moves the dead letter (or sends a fresh message) after this commits.
    """
    ids = list(dict.fromkeys(report_ids))
    if not ids:
        return set()
    session = _session()
    text = f"requeued from dead letters by {actor or 'unknown'}"
    try:
        rows = session.execute(
            update(R)
            .where(R.c.id.in_(ids), R.c.status == "FAILED")
            .values(status="PENDING", updated_at=func.now(), **_REQUEUE_VALUES)
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
                        "message": text,
                        "detail": {"actor": actor, **(detail or {})},
                    }
                    for rid in moved
                ],
            )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    for rid in moved:
        log.info("Job %s FAILED -> PENDING (%s)", rid, text)
    return moved


def requeued_from_dead(report_id: uuid.UUID, *, actor: str | None, detail: dict[str, Any] | None = None) -> Outcome:
    """FAILED -> PENDING for one report whose dead letter an operator requeues ('requeued' event)."""
    if report_id in requeued_from_dead_many([report_id], actor=actor, detail=detail):
        return Outcome(True, "PENDING")
    return Outcome(False, current_status(report_id))


def note_many(report_ids: list[uuid.UUID], kind: str, message: str, detail: dict[str, Any] | None = None) -> int:
    """The same state-less timeline entry on many reports in one INSERT ... SELECT; missing ids are skipped."""
    ids = list(dict.fromkeys(report_ids))
    if not ids:
        return 0
    session = _session()
    from sqlalchemy import literal
    from sqlalchemy.dialects.postgresql import JSONB

    try:
        result = session.execute(
            insert(E).from_select(
                ["report_id", "kind", "message", "detail"],
                select(
                    R.c.id,
                    literal(kind),
                    literal(message),
                    literal(detail or {}, type_=JSONB),
                ).where(R.c.id.in_(ids)),
            )
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def has_event(report_id: uuid.UUID, kinds: tuple[str, ...]) -> bool:
    """Whether the report's timeline holds an event of one of these kinds."""
    session = _session()
    found = session.execute(
        select(E.c.id).where(E.c.report_id == report_id, E.c.kind.in_(kinds)).limit(1)
    ).first()
    session.rollback()
    return found is not None


# -- the email claim (called by reportsvc.worker.notify) ---------------------------------------

#: Mixed into every email-claim key, so these advisory locks stay clear of any other advisory-lock user.
_EMAIL_CLAIM_NAMESPACE = b"reportsvc:email-claim:"
_TRY_EMAIL_CLAIM = text("SELECT pg_try_advisory_xact_lock(:key)")
_EMAIL_SENT = select(E.c.id).where(E.c.report_id == bindparam("report_id"), E.c.kind == "email_sent").limit(1)


def _email_claim_key(report_id: uuid.UUID) -> int:
    """The report's signed 64-bit advisory-lock key for its email (a pair of reports collides with p = 2^-64)."""
    digest = hashlib.blake2b(_EMAIL_CLAIM_NAMESPACE + report_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def email_claim(report_id: uuid.UUID) -> Iterator[str]:
    """Hold the report's email claim for the block: yields "claimed", "busy" (another delivery holds it) or "sent".

    The claim is a transaction-scoped advisory lock (`pg_try_advisory_xact_lock`) on the caller's
    session. Under "claimed" the caller sends, then records the outcome with `note()`: that commit
    writes the event and releases the lock in the same instant, so the next holder's check (run after
    it got the lock) always sees an "email_sent" that was written. Nothing to clean up after a crash:
    PostgreSQL drops the lock with the dead process's connection, and a block that leaves without
    committing is rolled back here, which releases it too. (A marker row would outlive a crash and need
    a lease; a Redis key would need a TTL longer than any SMTP conversation, which Flask-Mail does not bound.)
    """
    session = _session()
    try:
        if not session.execute(_TRY_EMAIL_CLAIM, {"key": _email_claim_key(report_id)}).scalar():
            state = "busy"
        elif session.execute(_EMAIL_SENT, {"report_id": report_id}).first() is not None:
            state = "sent"
        else:
            state = "claimed"
        if state != "claimed":
            session.rollback()  # hold nothing while the caller only logs
    except BaseException:
        session.rollback()
        raise
    try:
        yield state
    finally:
        session.rollback()  # a no-op after the block's note() committed; otherwise this releases the lock
