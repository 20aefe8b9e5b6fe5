"""Crash recovery: the stall sweep and the orphan reconcile (DESIGN section 5).

Sits above `lifecycle` (status) and `queues` (Redis) and ties them together:
a stalled RUNNING report goes back to PENDING through the lifecycle module,
then exactly one live message is made to exist for it: the old one released
from a dead worker's ack set when it is still there, a new one otherwise.

Several schedulers may run these jobs at once. The stall sweep's correctness does
not depend on the Redis lock taken around each run: every transition is
conditional on the claim's run_id, so only one scheduler can move a given
stalled row and only that one re-queues it. The orphan reconcile has no such
per-row fence (an orphan stays PENDING after it got its message), so it is the
lock that keeps two reconcilers from sending for the same orphan: the walk
renews it after every batch, only while it still owns it, and stops as soon as
it does not (the lock expired, or a Redis FLUSHALL took it, and another
scheduler may be walking now). A loss is noticed at the next batch boundary,
so at most the batch in hand can overlap with another scheduler's walk.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis
from sqlalchemy import text

from reportsvc.config import Settings
from reportsvc.extensions import db
from reportsvc.ops import jobs, pauses, webhooks
from reportsvc.queues import live_actions as queue_actions
from reportsvc.queues.probe import locate_by_message_id, surely_live
from reportsvc.state import lifecycle

log = logging.getLogger("reportsvc.ops.sweeper")

LOCK_PREFIX = "reportsvc:lock:"
BATCH = 200


@dataclass
class SweepResult:
    """What one sweep or reconcile run did."""

    examined: int = 0
    requeued: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)  # stalled with a cancel requested
    skipped: int = 0
    locked_out: bool = False
    lock_lost: bool = False

    def summary(self) -> str:
        """One log-friendly line."""
        if self.locked_out:
            return "another scheduler holds the lock; skipped"
        cancelled = f"cancelled {len(self.cancelled)}, " if self.cancelled else ""
        return (f"examined {self.examined}, requeued {len(self.requeued)}, failed {len(self.failed)}, "
                + cancelled + f"skipped {self.skipped}" + ("; lost the lock, stopped early" if self.lock_lost else ""))


#: Delete / push the expiry of the lock key only while it still holds this owner's token (check and act in one step).
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"


@dataclass
class RedisLock:
    """One scheduler's try at a lock: true while held; `extend()` renews it only for its owner."""

    client: redis.Redis
    key: str
    token: str
    ttl_ms: int
    held: bool

    def __bool__(self) -> bool:
        return self.held

    def extend(self) -> bool:
        """Push the expiry ttl_ms ahead if this owner still holds the lock; False (and held no more) once it is lost."""
        if self.held:
            self.held = bool(self.client.eval(_EXTEND, 1, self.key, self.token, self.ttl_ms))
        return self.held


@contextmanager
def redis_lock(client: redis.Redis, name: str, ttl_ms: int) -> Iterator[RedisLock]:
    """A best-effort mutual exclusion across schedulers (SET NX PX with a token, released only by its owner).

    The lock is true when acquired. A run longer than `ttl_ms` must call `extend()` as it goes and stop
    when that returns False.
    """
    token = uuid.uuid4().hex
    key = LOCK_PREFIX + name
    lock = RedisLock(client, key, token, ttl_ms, held=bool(client.set(key, token, nx=True, px=ttl_ms)))
    acquired = lock.held
    try:
        yield lock
    finally:
        if acquired:
            client.eval(_RELEASE, 1, key, token)


@dataclass(frozen=True)
class Delivery:
    """What ensure_one_live_message found or did."""

    action: str  # "live", "released", "sent", "send_failed"
    text: str

    @property
    def changed(self) -> bool:
        """Whether a message was put back or sent."""
        return self.action in ("released", "sent")


def _release_if_orphaned(client: redis.Redis, message_id: str, dead_after_ms: int) -> Delivery | None:
    """A Delivery when the message is live or was released from a dead holder; None when it is nowhere."""
    queue, where = locate_by_message_id(client, message_id, dead_after_ms=dead_after_ms)
    holder, redis_id = where.worker_id, where.message.redis_id if where.message else None
    if where.state in ("waiting", "delayed", "held") and (holder is None or where.worker_alive is not False):
        # Waiting, or held (a retry in its delay, or a running attempt) by a live worker: it will run or be acked.
        return Delivery("live", f"message {message_id} is {where.state}"
                        + (f" by live worker {holder}" if holder and where.state == "held" else ""))
    if where.state in ("delayed", "held") and queue and holder and redis_id:
        # Held by a dead worker: a killed process's running attempt, or a retry it kept in memory for its delay.
        ack_queue = queue + ".DQ" if where.state == "delayed" else queue
        if queue_actions.release_held(client, ack_queue, redis_id, holder, dead_after_ms=dead_after_ms):
            return Delivery("released", f"released message {message_id} from dead worker {holder}")
        # Someone else (Dramatiq's own maintenance, another scheduler) moved it first: look again.
        _, again = locate_by_message_id(client, message_id, dead_after_ms=dead_after_ms)
        if again.state in ("waiting", "delayed", "held"):
            return Delivery("live", f"message {message_id} was put back by someone else")
    return None


def ensure_one_live_message(client: redis.Redis, report_id: uuid.UUID, message_id: str | None,
                            settings: Settings) -> Delivery:
    """Make sure exactly one live message carries a PENDING report.

    Waiting, delayed, or held by a live worker: leave it. Held by a dead worker
    (killed with its prefetched messages or its retries waiting out their delay):
    move that message back, as Dramatiq's own maintenance would. Nowhere (or
    dead-lettered): send a new one.
    """
    if message_id:
        found = _release_if_orphaned(client, message_id, settings.report_lock_seconds * 1000)
        if found is not None:
            return found
    new_id = jobs.send_generate(report_id)
    if new_id is None:
        return Delivery("send_failed", "Redis refused the new message; the reconciler will retry")
    return Delivery("sent", f"sent new message {new_id}")


def sweep_stalled(client: redis.Redis, settings: Settings) -> SweepResult:
    """RUNNING reports with a heartbeat older than the lock: back to PENDING, or FAILED past the limit."""
    result = SweepResult()
    with redis_lock(client, "stall-sweep", ttl_ms=max(10_000, int(settings.stall_sweep_interval_seconds * 4000))) \
            as acquired:
        if not acquired:
            result.locked_out = True
            return result
        rows = db.session.execute(
            text(
                "SELECT id, run_id, message_id, extract(epoch FROM now() - heartbeat_at) AS idle "
                "FROM report_requests WHERE status = 'RUNNING' "
                "AND (heartbeat_at IS NULL OR heartbeat_at < now() - make_interval(secs => :lock)) "
                "ORDER BY heartbeat_at LIMIT :batch"
            ),
            {"lock": settings.report_lock_seconds, "batch": BATCH},
        ).all()
        db.session.rollback()
        for row in rows:
            result.examined += 1
            idle = float(row.idle or 0)
            outcome = lifecycle.release_stalled(
                row.id, row.run_id, max_stalled=settings.max_stalled_count, idle_seconds=idle
            )
            if outcome is None:
                result.skipped += 1  # its worker finished or another scheduler moved it first
                continue
            if outcome == "CANCELLED":
                # Its cancel was asked for and its worker died before acting: nothing to requeue.
                log.warning("Job %s stalled (no heartbeat for %.0f s) with a cancel requested: CANCELLED", row.id, idle)
                result.cancelled.append(str(row.id))
                webhooks.queue_if_wanted(row.id)
                continue
            stalls = lifecycle_stall_count(row.id)
            if outcome == "FAILED":
                log.warning("Job %s stalled (no heartbeat for %.0f s, stall %d/%d), giving up: FAILED",
                            row.id, idle, stalls, settings.max_stalled_count)
                result.failed.append(str(row.id))
                webhooks.queue_if_wanted(row.id)
                continue
            log.warning("Job %s stalled (no heartbeat for %.0f s, stall %d/%d), moving back to waiting",
                        row.id, idle, stalls, settings.max_stalled_count)
            delivery = ensure_one_live_message(client, row.id, row.message_id, settings)
            log.info("Job %s %s", row.id, delivery.text)
            if delivery.changed:
                lifecycle.note(row.id, "requeued", delivery.text, {"by": "stall sweep", "action": delivery.action})
                result.requeued.append(str(row.id))
    return result


def lifecycle_stall_count(report_id: uuid.UUID) -> int:
    """The report's stall count now (for the log line)."""
    value = db.session.execute(
        text("SELECT stall_count FROM report_requests WHERE id = :id"), {"id": report_id}
    ).scalar()
    db.session.rollback()
    return int(value or 0)


def _reconcile_lock_ttl_ms(settings: Settings) -> int:
    """How long the reconcile lock lives between renewals (it is renewed after every batch)."""
    return max(30_000, int(settings.reconcile_interval_seconds * 2000))


def _pending_batch(settings: Settings, after: tuple[datetime, uuid.UUID] | None) -> list[Any]:
    """The next BATCH PENDING rows past the grace period, keyset-ordered after `after`."""
    rows = db.session.execute(
        text(
            "SELECT id, message_id, created_at, priority FROM report_requests WHERE status = 'PENDING' "
            "AND updated_at < now() - make_interval(secs => :grace) "
            "AND (CAST(:after_ts AS timestamptz) IS NULL OR (created_at, id) > (:after_ts, :after_id)) "
            "ORDER BY created_at, id LIMIT :batch"
        ),
        {"grace": settings.reconcile_grace_seconds, "batch": BATCH,
         "after_ts": after[0] if after else None, "after_id": after[1] if after else None},
    ).all()
    db.session.rollback()
    return list(rows)


def _reconcile_batch(client: redis.Redis, settings: Settings, rows: list[Any], result: SweepResult) -> None:
    """Give every row of the batch with no live message a message (one probe for the whole batch first)."""
    live = surely_live(client, [r.message_id for r in rows if r.message_id],
                       dead_after_ms=settings.report_lock_seconds * 1000)
    paused = pauses.paused(client)
    for row in rows:
        result.examined += 1
        if row.message_id in live or jobs.queue_of(row) in paused:
            # A paused queue's reports wait on purpose: re-sent after the resume if Redis lost their message.
            result.skipped += 1
            continue
        delivery = ensure_one_live_message(client, row.id, row.message_id, settings)
        if not delivery.changed:
            result.skipped += 1
            continue
        lifecycle.note(row.id, "requeued", f"no live message: {delivery.text}",
                       {"by": "reconcile", "action": delivery.action})
        log.warning("Job %s had no live message (worker lost, Redis emptied or send failed): %s",
                    row.id, delivery.text)
        result.requeued.append(str(row.id))


def reconcile_orphans(client: redis.Redis, settings: Settings, *, lock_ttl_ms: int | None = None) -> SweepResult:
    """PENDING reports older than the grace period with no message anywhere in Redis get one.

    The walk holds the "reconcile" lock (`lock_ttl_ms`, default from the interval) and renews it after
    each batch; a run that finds the lock no longer its own stops there (a long walk outliving the TTL
    without renewal, or a FLUSHALL dropping the key), so at most the batch in hand overlaps another walk.
    """
    result = SweepResult()
    with redis_lock(client, "reconcile", ttl_ms=lock_ttl_ms or _reconcile_lock_ttl_ms(settings)) as lock:
        if not lock:
            result.locked_out = True
            return result
        after: tuple[datetime, uuid.UUID] | None = None
        while rows := _pending_batch(settings, after):
            _reconcile_batch(client, settings, rows, result)
            if len(rows) < BATCH:
                break  # that was the last batch
            if not lock.extend():
                # Expired or flushed: another scheduler may be walking now, and a second send is a double requeue.
                log.warning("Reconcile lost its lock after %d rows; stopping (the next run goes on)", result.examined)
                result.lock_lost = True
                break
            after = (rows[-1].created_at, rows[-1].id)
        if lock:
            release_owed_emails(client, settings, result)
    return result


#: How far back the reconcile looks for a READY report whose email is owed (see `release_owed_emails`);
#: older ones are left to Dramatiq's own maintenance, which releases a dead worker's messages too (lazily).
OWED_EMAIL_LOOKBACK_SECONDS = 900


def release_owed_emails(client: redis.Redis, settings: Settings, result: SweepResult) -> None:
    """READY reports past the grace period with a recipient and no email outcome whose generate message a dead
    worker holds: release that message, and its redelivery sends or queues the email.

    That is a worker killed after READY committed and before its email was sent (EMAIL_INLINE) or queued:
    the generate message is acknowledged only after, so it is still held. A message held by a live worker
    (an inline send under way), waiting, or gone (the actor ended, so the email was sent, queued or noted) is
    left alone: this never sends an email itself, and the email claim drops any duplicate.
    """
    rows = db.session.execute(
        text(
            "SELECT r.id, r.message_id FROM report_requests r WHERE r.status = 'READY' AND r.message_id IS NOT NULL"
            " AND r.finished_at >= now() - make_interval(secs => :lookback)"
            " AND r.finished_at < now() - make_interval(secs => :grace)"
            " AND (r.notify_email IS NOT NULL OR jsonb_array_length(r.notify_emails) > 0 OR :default_to)"
            " AND NOT EXISTS (SELECT 1 FROM report_events e WHERE e.report_id = r.id"
            " AND e.kind IN ('email_sent', 'email_failed', 'email_skipped'))"
            " ORDER BY r.finished_at LIMIT :batch"
        ),
        {"lookback": settings.reconcile_grace_seconds + OWED_EMAIL_LOOKBACK_SECONDS,
         "grace": settings.reconcile_grace_seconds, "default_to": bool(settings.email_default_to), "batch": BATCH},
    ).all()
    db.session.rollback()
    for row in rows:
        result.examined += 1
        delivery = _release_if_orphaned(client, row.message_id, settings.report_lock_seconds * 1000)
        if delivery is None or delivery.action != "released":
            result.skipped += 1
            continue
        lifecycle.note(row.id, "requeued", f"email owed: {delivery.text}", {"by": "reconcile", "action": "released"})
        log.warning("Job %s was READY with its email owed and its worker dead: %s", row.id, delivery.text)
        result.requeued.append(str(row.id))
