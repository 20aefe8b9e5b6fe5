"""Bulk dead-letter jobs: requeue or delete every dead letter matching a filter, in the background.

The web request creates a ``bulk_jobs`` row and sends one message to the ``maintenance`` queue,
then returns 202 at once. The actor (``reportsvc.worker.maintenance.run_bulk_job``) calls
:func:`run`, which works through the dead-letter set in batches of ``BATCH_SIZE`` (500) letters,
oldest first, one short Lua script each, and writes progress to the row after every batch.

Why PostgreSQL and not a Redis hash with an expiry: the job record is operator history that
belongs with ``audit_log`` (who moved 100,000 messages, when, with which filter, how it ended);
it must survive the Redis it is operating on being flushed or failed over; and it carries the
resume cursor, so a job whose worker died is picked up where it stopped by the redelivered
message. Progress writes are one UPDATE per 500 letters, which PostgreSQL takes in stride.

Guarantees:

* exactly the letters that were dead when the job was created and match the filter are
  considered (``snapshot_ms`` caps ``dead_before``; letters dying later are left alone);
* a letter is moved at most once (the Lua script checks it is still dead at the seen score,
  and a report moves FAILED -> PENDING at most once), so a redelivered or resumed job is safe;
* one runner at a time: the runner claims the job with a fresh ``run_token`` and every progress
  write is fenced by it; a runner silent for ``LEASE_SECONDS`` loses the job to the next one;
* every finished job writes an ``audit_log`` row with its counts.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    and_,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from reportsvc import queues
from reportsvc.extensions import db
from reportsvc.names import BULK_JOB_ACTOR, MAINTENANCE_QUEUE
from reportsvc.ops import deadletters, messaging
from reportsvc.redis_client import get_redis
from reportsvc.state import audit

log = logging.getLogger("reportsvc.ops.bulkjobs")

ACTIONS = ("requeue", "delete")
STATES = ("queued", "running", "done", "failed", "cancelled")
FINAL_STATES = ("done", "failed", "cancelled")
BATCH_SIZE = deadletters.BATCH_SIZE
LEASE_SECONDS = 30
QUEUED_LOST_SECONDS = 600


class BulkJob(db.Model):  # type: ignore[name-defined]
    """One background requeue/delete over a queue's dead letters (migration 0003_bulk_jobs)."""

    __tablename__ = "bulk_jobs"
    __table_args__ = (
        CheckConstraint("action IN ('requeue','delete')", name="bulk_jobs_action_check"),
        CheckConstraint("state IN ('queued','running','done','failed','cancelled')", name="bulk_jobs_state_check"),
        CheckConstraint("lane IS NULL OR lane IN ('batch','interactive','original')", name="bulk_jobs_lane_check"),
        Index("ix_bulk_jobs_created_id", text("created_at DESC"), text("id DESC")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(16), nullable=False)
    queue: Mapped[str] = mapped_column(String(255), nullable=False)
    filter: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict,
                                                   server_default=text("'{}'::jsonb"))
    #: Where a requeue sends generate letters (migration i17_bulk_lane); None for deletes and older jobs.
    lane: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), nullable=False, default="queued", server_default="queued")
    snapshot_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    scanned: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    matched: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    done: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    batches: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    cursor: Mapped[str | None] = mapped_column(Text)
    run_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    error: Mapped[str | None] = mapped_column(Text)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready job record with a progress percentage (letters scanned / letters in range)."""
        pct = 100 if self.state == "done" else (min(99, int(self.scanned * 100 / self.total)) if self.total else 0)
        return {
            "id": str(self.id),
            "action": self.action,
            "queue": self.queue,
            "filter": self.filter,
            "lane": self.lane,
            "state": self.state,
            "actor": self.actor,
            "total": self.total,
            "scanned": self.scanned,
            "matched": self.matched,
            "done": self.done,
            "skipped": self.skipped,
            "batches": self.batches,
            "progress": pct,
            "error": self.error,
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "updated_at": _iso(self.updated_at),
            "finished_at": _iso(self.finished_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


T = BulkJob.__table__


def create(*, action: str, queue: str, flt: deadletters.LetterFilter, actor: str,
           lane: str | None = None) -> BulkJob:
    """Insert a queued job; ``total`` = letters dead now within the filter's time bounds (one ZCOUNT).

    A requeue's ``lane`` defaults to the batch lane (``deadletters.BULK_DEFAULT_LANE``); a delete has none.
    """
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}")
    if action == "delete" and lane is not None:
        raise ValueError("a delete has no lane")
    if action == "requeue":
        lane = lane or deadletters.BULK_DEFAULT_LANE
        if lane not in deadletters.LANE_CHOICES:
            raise ValueError(f"lane must be one of {deadletters.LANE_CHOICES}")
    snapshot_ms = int(time.time() * 1000) + 1
    total = queues.count_dead_matching(
        get_redis(), queue,
        queues.DeadFilter(dead_after=flt.dead_after, dead_before=flt.dead_filter(snapshot_ms=snapshot_ms).dead_before),
    )
    job = BulkJob(id=uuid.uuid4(), action=action, queue=queues.canonical_queue(queue), filter=flt.as_json(),
                  lane=lane, actor=actor, snapshot_ms=snapshot_ms, total=total, state="queued")
    db.session.add(job)
    db.session.commit()
    return job


def submit(*, action: str, queue: str, flt: deadletters.LetterFilter, actor: str,
           lane: str | None = None) -> BulkJob:
    """Create the job and send its message; a send that fails marks the job failed."""
    job = create(action=action, queue=queue, flt=flt, actor=actor, lane=lane)
    try:
        messaging.send(BULK_JOB_ACTOR, MAINTENANCE_QUEUE, str(job.id))
    except Exception as exc:
        log.warning("Bulk job %s could not be queued: %s", job.id, exc)
        _finish(job.id, None, "failed", f"could not be queued: {exc}"[:500])
        db.session.refresh(job)
    return job


def get(job_id: uuid.UUID) -> BulkJob | None:
    """One job by id (fresh from the database)."""
    job = db.session.get(BulkJob, job_id)
    if job is not None:
        db.session.refresh(job)
    return job


def recent(limit: int = 20, queue: str | None = None) -> list[BulkJob]:
    """Newest jobs first."""
    stmt = select(BulkJob).order_by(BulkJob.created_at.desc(), BulkJob.id.desc()).limit(limit)
    if queue:
        stmt = stmt.where(BulkJob.queue == queue)
    return list(db.session.execute(stmt).scalars())


def cancel(job_id: uuid.UUID, *, actor: str) -> bool:
    """Stop a queued or running job after its current batch; False if it already ended."""
    result = db.session.execute(
        update(T)
        .where(T.c.id == job_id, T.c.state.in_(("queued", "running")))
        .values(state="cancelled", finished_at=func.now(), updated_at=func.now(),
                error=f"cancelled by {actor}")
    )
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _claim(job_id: uuid.UUID) -> tuple[uuid.UUID, Any] | None:
    token = uuid.uuid4()
    row = db.session.execute(
        update(T)
        .where(
            T.c.id == job_id,
            or_(
                T.c.state == "queued",
                and_(T.c.state == "running",
                     T.c.heartbeat_at < func.now() - text(f"interval '{int(LEASE_SECONDS)} seconds'")),
            ),
        )
        .values(state="running", run_token=token, heartbeat_at=func.now(), updated_at=func.now(),
                started_at=func.coalesce(T.c.started_at, func.now()))
        .returning(T)
    ).one_or_none()
    db.session.commit()
    return None if row is None else (token, row)


def _progress(job_id: uuid.UUID, token: uuid.UUID, step: deadletters.StepResult) -> bool:
    r = step.result
    result = db.session.execute(
        update(T)
        .where(T.c.id == job_id, T.c.run_token == token, T.c.state == "running")
        .values(
            scanned=T.c.scanned + step.scanned,
            matched=T.c.matched + r.found,
            done=T.c.done + r.done,
            skipped=T.c.skipped + len(r.skipped),
            batches=T.c.batches + 1,
            cursor=step.next_cursor,
            heartbeat_at=func.now(),
            updated_at=func.now(),
        )
    )
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _finish(job_id: uuid.UUID, token: uuid.UUID | None, state: str, error: str | None = None) -> bool:
    cond = [T.c.id == job_id, T.c.state.in_(("queued", "running"))]
    if token is not None:
        cond.append(T.c.run_token == token)
    result = db.session.execute(
        update(T).where(and_(*cond)).values(state=state, error=error, finished_at=func.now(), updated_at=func.now())
    )
    db.session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def run(job_id: uuid.UUID, *, batch_size: int = BATCH_SIZE, pause_s: float = 0.0) -> str | None:
    """Work a job to its end (the maintenance actor's body).

    Returns its final state; None if there is nothing to do (finished, cancelled, unknown) and
    "busy" if another runner's lease is still fresh (the actor retries after the lease).
    """
    claimed = _claim(job_id)
    if claimed is None:
        state = db.session.execute(select(T.c.state).where(T.c.id == job_id)).scalar_one_or_none()
        db.session.rollback()
        log.info("Bulk job %s not claimed (it is %s)", job_id, state)
        # "running": another runner holds a fresh lease, or one died less than LEASE_SECONDS ago.
        return "busy" if state == "running" else None
    token, row = claimed
    flt = deadletters.LetterFilter.parse(row.filter)
    step_fn: Any = deadletters.delete_step
    if row.action == "requeue":
        # Jobs from before lanes existed (lane NULL) keep what they were created to do: their own queue.
        step_fn = functools.partial(deadletters.requeue_step, lane=row.lane or "original")
    client = get_redis()
    cursor = row.cursor
    log.info("Bulk job %s: %s on %s (filter %s) by %s", job_id, row.action, row.queue, row.filter, row.actor)
    try:
        while True:
            step = step_fn(client, row.queue, flt, actor=row.actor, cursor=cursor,
                           snapshot_ms=row.snapshot_ms, batch_size=batch_size)
            if not _progress(job_id, token, step):
                log.info("Bulk job %s stopped: cancelled or taken over", job_id)
                _audit_end(job_id)
                return None
            cursor = step.next_cursor
            if step.done:
                break
            if pause_s:
                time.sleep(pause_s)
    except Exception as exc:
        db.session.rollback()
        log.exception("Bulk job %s failed", job_id)
        # Final, not retried: what was moved stays moved; re-submitting finds only what is left.
        _finish(job_id, token, "failed", f"{type(exc).__name__}: {exc}"[:1000])
        _audit_end(job_id)
        return "failed"
    _finish(job_id, token, "done")
    _audit_end(job_id)
    return "done"


def _audit_end(job_id: uuid.UUID) -> None:
    job = get(job_id)
    if job is None:
        return
    audit.record(
        job.actor, f"dead.{job.action}_all.finished", f"queue:{job.queue}", job.state,
        {"job_id": str(job.id), "filter": job.filter, "lane": job.lane, "scanned": job.scanned, "matched": job.matched,
         "done": job.done, "skipped": job.skipped, "batches": job.batches, "error": job.error},
    )


def resume_stale() -> list[str]:
    """Re-send the runner message for jobs whose runner died (lease expired) or whose message was lost."""
    expired = func.now() - text(f"interval '{int(LEASE_SECONDS)} seconds'")
    # A queued job's message may simply be waiting behind others; only a long wait means it was lost.
    lost = func.now() - text(f"interval '{int(QUEUED_LOST_SECONDS)} seconds'")
    stale = db.session.execute(
        select(T.c.id).where(
            or_(
                and_(T.c.state == "queued", T.c.created_at < lost),
                and_(T.c.state == "running", T.c.heartbeat_at < expired),
            )
        )
    ).scalars().all()
    db.session.rollback()
    resumed = []
    for job_id in stale:
        try:
            messaging.send(BULK_JOB_ACTOR, MAINTENANCE_QUEUE, str(job_id))
        except Exception as exc:
            log.warning("Bulk job %s could not be re-sent: %s", job_id, exc)
            continue
        log.warning("Bulk job %s had no live runner; re-sent it", job_id)
        resumed.append(str(job_id))
    return resumed
