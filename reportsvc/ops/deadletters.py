"""Dead letters tied to their reports: the layer above ``queues`` (Redis) and ``lifecycle`` (status).

``queues`` knows messages, ``lifecycle`` knows reports; this module is where a dead letter meets
the report it carries (DESIGN section 4).

Requeue, per dead letter of ``generate_report``:

1. the report goes FAILED -> PENDING through ``lifecycle.requeued_from_dead_many`` (one
   conditional UPDATE per batch, a 'requeued' event each); a report that is not FAILED any more
   (retried by hand, cancelled, already requeued by a second click) is left alone and its
   letter is *skipped* with the reason, never requeued: that is what makes a double requeue
   send one message, and stale letters never run a report twice;
2. then the letter moves back to its queue in one Lua script that checks it is still dead at the
   score the operator saw (``queues.requeue_dead_ids``), with retries reset; with a ``lane``
   (``batch`` or ``interactive``) step 1 also sets the report's ``priority`` and step 2 moves the
   letter to that lane's queue instead (``queues.dead_move``: same guard, message index repointed);
3. a report that moved to PENDING but whose letter vanished meanwhile (deleted by someone else)
   gets a fresh message (``jobs.send_generate``), so no report is left PENDING without one.

The report row is committed before the message moves (outbox order), so a worker never sees
the message while the report is still FAILED. Letters of other actors (e.g. the e-mail actor)
are requeued as plain messages, with a note on the report's timeline when they carry one.

Delete: one Lua script per batch removes letters still at the seen score; each report whose
letter went gets a 'dead_letter_deleted' note and stays FAILED.

Bulk: :func:`requeue_step` / :func:`delete_step` do one batch (default 500 letters, one read
script, one SQL round trip for the filter and transition, one write script), oldest first; the
background job in ``bulkjobs`` loops over them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy import select

from reportsvc import queues
from reportsvc.extensions import db
from reportsvc.names import GENERATE_ACTOR, LANES, REPORT_ACTORS
from reportsvc.ops import jobs
from reportsvc.ops.letter_filter import FILTER_KEYS as FILTER_KEYS
from reportsvc.ops.letter_filter import FilterError as FilterError
from reportsvc.ops.letter_filter import LetterFilter, matching_error, report_uuid
from reportsvc.queues import MessageView
from reportsvc.state import lifecycle
from reportsvc.state.models import ReportRequest

log = logging.getLogger("reportsvc.ops.deadletters")

BATCH_SIZE = 500
#: Most ids one synchronous request may name; more goes through a bulk job.
MAX_IDS = 1000
#: Where requeued generate letters go: a priority lane, or "original" (the queue each died on).
LANE_CHOICES = (*LANES, "original")
#: A bulk requeue (all matching) is batch work by default; named letters go back where they were.
BULK_DEFAULT_LANE = "batch"
IDS_DEFAULT_LANE = "original"


def report_summaries(views: list[MessageView]) -> dict[str, dict[str, Any]]:
    """report id (text) -> {status, error_message, attempts} for the reports a page carries (one query)."""
    ids = {rid for v in views if (rid := report_uuid(v)) is not None}
    if not ids:
        return {}
    rows = db.session.execute(
        select(ReportRequest.id, ReportRequest.status, ReportRequest.error_message, ReportRequest.attempts,
               ReportRequest.title).where(ReportRequest.id.in_(list(ids)))
    ).all()
    db.session.rollback()
    return {
        str(r.id): {"status": r.status, "error_message": r.error_message, "attempts": r.attempts, "title": r.title}
        for r in rows
    }


def _statuses(report_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not report_ids:
        return {}
    rows = db.session.execute(
        select(ReportRequest.id, ReportRequest.status).where(ReportRequest.id.in_(list(report_ids)))
    ).all()
    db.session.rollback()
    return {r.id: r.status for r in rows}


@dataclass
class ActionResult:
    """What one requeue/delete (or one batch of a bulk job) did."""

    found: int = 0  # letters that were dead when read (after the filter)
    done: int = 0  # letters moved (requeued) or deleted
    reports_requeued: int = 0  # reports moved FAILED -> PENDING
    resent: int = 0  # reports given a fresh message because their letter vanished
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"id", "reason"}
    missing: list[str] = field(default_factory=list)  # ids asked for that are not dead letters now

    def add(self, other: ActionResult) -> None:
        """Sum another result into this one (skip lists are capped for the job record)."""
        self.found += other.found
        self.done += other.done
        self.reports_requeued += other.reports_requeued
        self.resent += other.resent
        self.skipped += other.skipped[: max(0, 100 - len(self.skipped))]
        self.missing += other.missing[: max(0, 100 - len(self.missing))]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "found": self.found,
            "done": self.done,
            "reports_requeued": self.reports_requeued,
            "resent": self.resent,
            "skipped": self.skipped,
            "missing": self.missing,
        }


class _RequeuePlan:
    """Decides which letters of one batch to move, moving their reports FAILED -> PENDING first."""

    def __init__(self, queue: str, actor: str, error: str | None, lane: str = IDS_DEFAULT_LANE) -> None:
        if lane not in LANE_CHOICES:
            raise ValueError(f"lane must be one of {', '.join(LANE_CHOICES)}")
        self.queue, self.actor, self.error = queue, actor, error
        self.priority = None if lane == "original" else lane
        self.target = None if self.priority is None else LANES[self.priority]
        self.transitioned: dict[str, uuid.UUID] = {}  # redis id -> report moved to PENDING
        self.noted: dict[str, uuid.UUID] = {}  # redis id -> report to note (non-generate actors)
        self.skipped: list[dict[str, str]] = []
        self.allowed: set[str] = set()

    def __call__(self, views: list[MessageView]) -> set[str]:
        if self.error:
            keep = matching_error(views, self.error)
            views = [v for v in views if v.redis_id in keep]
        generate: dict[uuid.UUID, MessageView] = {}
        for v in views:
            rid = report_uuid(v)
            if v.actor == GENERATE_ACTOR and rid is not None:
                if rid in generate:
                    # Two letters for one report: one requeue is enough, the other stays dead.
                    self.skipped.append({"id": v.redis_id, "reason": "another dead letter of this report is requeued"})
                    continue
                generate[rid] = v
            else:
                self.allowed.add(v.redis_id)
                if rid is not None:
                    self.noted[v.redis_id] = rid
        if generate:
            detail = {"queue": self.queue, "via": "dead-letter requeue"}
            if self.target is not None:
                detail["to_queue"] = self.target
            moved = lifecycle.requeued_from_dead_many(
                list(generate), actor=self.actor, detail=detail, priority=self.priority,
                message_ids={rid: v.message_id for rid, v in generate.items() if v.message_id},
            )
            stale = _statuses([r for r in generate if r not in moved])
            for rid, v in generate.items():
                if rid in moved:
                    self.allowed.add(v.redis_id)
                    self.transitioned[v.redis_id] = rid
                else:
                    status = stale.get(rid)
                    reason = f"report is {status}, not FAILED" if status else "report does not exist"
                    self.skipped.append({"id": v.redis_id, "reason": reason})
        return set(self.allowed)

    def route(self, redis_id: str) -> str | None:
        """The queue a letter goes to: its report's new lane for a generate letter whose report moved, else its own."""
        return self.target if redis_id in self.transitioned else None

    def settle(self, moved_ids: Collection[str], result: ActionResult) -> None:
        """After the script: fresh messages for reports whose letter vanished, notes for the rest."""
        moved = set(moved_ids)
        result.done += len(moved)
        result.reports_requeued += len(self.transitioned)
        result.skipped += self.skipped
        for redis_id, rid in self.transitioned.items():
            if redis_id not in moved:
                log.warning("Job %s requeued but its dead letter %s vanished; sending a fresh message", rid, redis_id)
                jobs.send_generate(rid)
                result.resent += 1
        noted = [rid for redis_id, rid in self.noted.items() if redis_id in moved]
        if noted:
            lifecycle.note_many(noted, "message_requeued", f"dead message requeued by {self.actor}",
                                {"queue": self.queue, "actor": self.actor})


def requeue(
    client: redis.Redis, queue: str, redis_ids: list[str], *, actor: str, lane: str = IDS_DEFAULT_LANE
) -> ActionResult:
    """Requeue the named dead letters (Redis ids as listed by the console/API); see the module docstring."""
    views = queues.read_dead(client, queue, redis_ids, report_actors=REPORT_ACTORS)
    found = {v.redis_id for v in views}
    result = ActionResult(found=len(views), missing=[i for i in dict.fromkeys(redis_ids) if i not in found])
    if not views:
        return result
    plan = _RequeuePlan(queues.canonical_queue(queue), actor, None, lane)
    allowed = plan(views)
    moved = queues.requeue_dead_ids(client, queue, [v.redis_id for v in views if v.redis_id in allowed],
                                    route=plan.route)
    plan.settle(moved, result)
    return result


def delete(client: redis.Redis, queue: str, redis_ids: list[str], *, actor: str) -> ActionResult:
    """Delete the named dead letters; their reports stay FAILED with the deletion on their timeline."""
    views = queues.read_dead(client, queue, redis_ids, report_actors=REPORT_ACTORS)
    found = {v.redis_id for v in views}
    result = ActionResult(found=len(views), missing=[i for i in dict.fromkeys(redis_ids) if i not in found])
    if not views:
        return result
    deleted = set(queues.delete_dead_ids(client, queue, [v.redis_id for v in views]))
    result.done = len(deleted)
    _note_deleted([v for v in views if v.redis_id in deleted], queue, actor)
    return result


def _note_deleted(views: list[MessageView], queue: str, actor: str) -> None:
    by_actor: dict[str, list[uuid.UUID]] = {}
    for v in views:
        rid = report_uuid(v)
        if rid is not None:
            by_actor.setdefault(v.actor, []).append(rid)
    for actor_name, ids in by_actor.items():
        lifecycle.note_many(
            ids, "dead_letter_deleted", f"dead letter ({actor_name}) deleted by {actor}; report stays as it is",
            {"queue": queues.canonical_queue(queue), "actor": actor, "message_actor": actor_name},
        )


class _DeletePlan:
    """Filter callback of a delete batch: applies the error filter and remembers the chosen views."""

    def __init__(self, error: str | None) -> None:
        self.error = error
        self.views: dict[str, MessageView] = {}

    def __call__(self, views: list[MessageView]) -> set[str]:
        keep = matching_error(views, self.error) if self.error else {v.redis_id for v in views}
        self.views = {v.redis_id: v for v in views if v.redis_id in keep}
        return set(self.views)


@dataclass(frozen=True)
class StepResult:
    """One batch of a bulk job."""

    result: ActionResult
    scanned: int
    next_cursor: str | None
    done: bool


def requeue_step(
    client: redis.Redis, queue: str, flt: LetterFilter, *, actor: str, cursor: str | None,
    snapshot_ms: float | None = None, batch_size: int = BATCH_SIZE, lane: str = BULK_DEFAULT_LANE,
) -> StepResult:
    """Requeue the matching letters among the next ``batch_size`` (oldest first), generate letters to ``lane``."""
    plan = _RequeuePlan(queues.canonical_queue(queue), actor, flt.error, lane)
    batch = queues.requeue_dead_batch(
        client, queue, batch_size=batch_size, cursor=cursor,
        filter=flt.dead_filter(snapshot_ms=snapshot_ms, allow=plan), route=plan.route,
    )
    result = ActionResult(found=len(batch.selected) + len(plan.skipped))
    plan.settle(batch.ids, result)
    return StepResult(result, batch.scanned, batch.next_cursor, batch.done)


def delete_step(
    client: redis.Redis, queue: str, flt: LetterFilter, *, actor: str, cursor: str | None,
    snapshot_ms: float | None = None, batch_size: int = BATCH_SIZE,
) -> StepResult:
    """Delete the matching letters among the next ``batch_size`` (oldest first)."""
    plan = _DeletePlan(flt.error)
    batch = queues.delete_dead_batch(
        client, queue, batch_size=batch_size, cursor=cursor,
        filter=flt.dead_filter(snapshot_ms=snapshot_ms, allow=plan),
    )
    result = ActionResult(found=len(batch.selected), done=batch.moved)
    _note_deleted([plan.views[i] for i in batch.ids if i in plan.views], queue, actor)
    return StepResult(result, batch.scanned, batch.next_cursor, batch.done)


def count(client: redis.Redis, queue: str, flt: LetterFilter, *, time_budget_s: float = 5.0) -> dict[str, Any]:
    """Dry run: how many letters a bulk action with ``flt`` would touch now.

    Time-only filters are one ZCOUNT. Others read the set in 1,000-letter steps (one short
    script each, plus one SQL query for an error filter) for at most ``time_budget_s``; past
    that the answer is a lower bound (``exact`` false) and the bulk job still finds them all.
    For requeue the job skips letters whose report is no longer FAILED, so it may move fewer.
    """
    matching, scanned, complete = queues.scan_count_dead(client, queue, flt.dead_filter(), time_budget_s=time_budget_s)
    keys = queues.QueueKeys.of(queue)
    return {"count": matching, "exact": complete, "scanned": scanned, "dead_total": int(client.zcard(keys.dead))}
