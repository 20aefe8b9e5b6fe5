"""Filtered bulk actions over a queue's dead letters, one bounded keyset batch per call.

A :class:`DeadFilter` says which letters a bulk action touches; ``requeue_dead_batch`` /
``delete_dead_batch`` read the next batch (oldest first), select the matching letters and apply
one check-then-act script (:mod:`.dead_actions`) to them, returning a cursor to resume from;
``run_batches`` loops a step to the end (jobs), and ``count_dead_matching`` / ``scan_count_dead``
are the dry runs.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from reportsvc.queues._dead import decode_dead_cursor, encode_dead_cursor, read_dead_rows
from reportsvc.queues.dead_actions import DEFAULT_BATCH, Route, delete_rows, requeue_routed
from reportsvc.queues.keys import DEFAULT_NAMESPACE, QueueKeys
from reportsvc.queues.messages import NO_REPORT_ACTORS, MessageView, to_ms


@dataclass(frozen=True)
class BatchResult:
    """Outcome of one bulk step; call again with ``next_cursor`` until ``done``."""

    moved: int
    scanned: int
    next_cursor: str | None
    done: bool
    #: Redis ids this step moved (requeued or deleted), and the ids it tried (passed the filter).
    ids: tuple[str, ...] = ()
    selected: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (datetimes stay datetimes)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class DeadFilter:
    """Which dead letters a bulk action touches; all given conditions must hold.

    ``dead_after`` is inclusive, ``dead_before`` exclusive (ms since epoch or datetime).
    ``redis_ids`` is an allow-set; ``allow`` receives each batch's candidate views and returns the
    Redis ids to keep (one SQL query per batch for the caller); ``predicate`` decides per view.
    """

    actor: str | Collection[str] | None = None
    dead_after: datetime | float | None = None
    dead_before: datetime | float | None = None
    redis_ids: Collection[str] | None = None
    allow: Callable[[list[MessageView]], Collection[str]] | None = None
    predicate: Callable[[MessageView], bool] | None = None
    report_actors: Collection[str] = NO_REPORT_ACTORS

    @property
    def lo(self) -> float | None:
        """Inclusive lower bound on the dead-letter score, in ms."""
        return None if self.dead_after is None else to_ms(self.dead_after)

    @property
    def hi(self) -> float | None:
        """Exclusive upper bound on the dead-letter score, in ms."""
        return None if self.dead_before is None else to_ms(self.dead_before)

    @property
    def score_only(self) -> bool:
        """True when only the time bounds filter, so counts need no bodies."""
        return self.actor is None and self.redis_ids is None and self.allow is None and self.predicate is None

    def select(self, views: list[MessageView]) -> list[MessageView]:
        """The views of one batch that pass every condition."""
        actors = {self.actor} if isinstance(self.actor, str) else self.actor
        out = [
            v
            for v in views
            if (actors is None or v.actor in actors)
            and (self.redis_ids is None or v.redis_id in self.redis_ids)
            and (self.predicate is None or self.predicate(v))
        ]
        if self.allow is not None and out:
            allowed = set(self.allow(out))
            out = [v for v in out if v.redis_id in allowed]
        return out


def _batch(
    client: redis.Redis,
    queue: str,
    namespace: str,
    batch_size: int,
    flt: DeadFilter | None,
    cursor: str | None,
    apply: Callable[[QueueKeys, list[tuple[str, float, Any]]], list[str]],
) -> BatchResult:
    keys = QueueKeys.of(queue, namespace)
    flt = flt or DeadFilter()
    start = decode_dead_cursor(cursor) if cursor else None
    page = read_dead_rows(client, keys, batch_size, start, desc=False, lo=flt.lo, hi=flt.hi)
    by_id = {rid: (rid, score, body) for rid, score, body in page.rows}
    views = page.views(keys.queue, flt.report_actors)
    chosen = [by_id[v.redis_id] for v in flt.select(views)]
    moved_ids = apply(keys, chosen) if chosen else []
    # Resume after the last letter this batch left in place: it is still in the ZSET, so the next
    # batch finds it by ZRANK (O(log n)) however many letters share its millisecond.
    # Letters the script refused (moved meanwhile, or already live) stay in the ZSET too: resume after
    # them as well, or a page of refusals would be re-read forever.
    moved = set(moved_ids)
    kept = [r for r in page.rows if r[0] not in moved]
    if kept:
        next_cursor: str | None = encode_dead_cursor(kept[-1][1], kept[-1][0])
    else:
        next_cursor = cursor
    done = page.at_end or not page.rows
    return BatchResult(
        moved=len(moved_ids),
        scanned=len(page.rows),
        next_cursor=None if done else next_cursor,
        done=done,
        ids=tuple(moved_ids),
        selected=tuple(c[0] for c in chosen),
    )


def requeue_dead_batch(
    client: redis.Redis,
    queue: str,
    *,
    batch_size: int = DEFAULT_BATCH,
    filter: DeadFilter | None = None,  # noqa: A002 - the operator-facing name
    cursor: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
    route: Route | None = None,
) -> BatchResult:
    """Requeue the matching letters among the next ``batch_size`` (oldest first); one script call per target.

    ``route`` (Redis id -> queue, asked after the filter ran) moves letters to another queue's waiting list.
    """
    return _batch(
        client, queue, namespace, batch_size, filter, cursor,
        lambda keys, rows: requeue_routed(client, keys, rows, route),
    )


def delete_dead_batch(
    client: redis.Redis,
    queue: str,
    *,
    batch_size: int = DEFAULT_BATCH,
    filter: DeadFilter | None = None,  # noqa: A002 - the operator-facing name
    cursor: str | None = None,
    namespace: str = DEFAULT_NAMESPACE,
) -> BatchResult:
    """Delete the matching letters among the next ``batch_size`` (oldest first); one script call."""
    return _batch(
        client, queue, namespace, batch_size, filter, cursor, lambda keys, rows: delete_rows(client, keys, rows)
    )


def run_batches(step: Callable[..., BatchResult], client: redis.Redis, queue: str, **kwargs: Any) -> BatchResult:
    """Call a ``*_batch`` action until done; returns the summed result (for jobs, not web requests)."""
    moved = scanned = 0
    cursor = kwargs.pop("cursor", None)
    while True:
        r = step(client, queue, cursor=cursor, **kwargs)
        moved, scanned, cursor = moved + r.moved, scanned + r.scanned, r.next_cursor
        if r.done:
            return BatchResult(moved=moved, scanned=scanned, next_cursor=None, done=True)


def count_dead_matching(
    client: redis.Redis,
    queue: str,
    filter: DeadFilter | None = None,  # noqa: A002 - the operator-facing name
    *,
    batch_size: int = 1000,
    namespace: str = DEFAULT_NAMESPACE,
) -> int:
    """Dry run of a bulk action: how many letters match (ZCOUNT when only time bounds are given)."""
    return scan_count_dead(client, queue, filter, batch_size=batch_size, namespace=namespace)[0]


def scan_count_dead(
    client: redis.Redis,
    queue: str,
    filter: DeadFilter | None = None,  # noqa: A002 - the operator-facing name
    *,
    batch_size: int = 1000,
    time_budget_s: float | None = None,
    namespace: str = DEFAULT_NAMESPACE,
) -> tuple[int, int, bool]:
    """(matching, scanned, complete): :func:`count_dead_matching` that stops after ``time_budget_s``.

    Each step is one short read script, so Redis is never blocked; the budget bounds the caller
    (a web request doing a dry run). ``complete`` False means ``matching`` is a lower bound.
    """
    keys = QueueKeys.of(queue, namespace)
    flt = filter or DeadFilter()
    if flt.score_only:
        lo = "-inf" if flt.lo is None else repr(flt.lo)
        hi = "+inf" if flt.hi is None else f"({flt.hi!r}"
        return int(client.zcount(keys.dead, lo, hi)), 0, True
    deadline = None if time_budget_s is None else time.monotonic() + time_budget_s
    total = scanned = 0
    start: tuple[float, str] | None = None
    while True:
        page = read_dead_rows(client, keys, batch_size, start, desc=False, lo=flt.lo, hi=flt.hi)
        views = page.views(keys.queue, flt.report_actors)
        total += len(flt.select(views))
        scanned += len(page.rows)
        if page.at_end or not page.rows:
            return total, scanned, True
        if deadline is not None and time.monotonic() > deadline:
            return total, scanned, False
        start = (page.rows[-1][1], page.rows[-1][0])


__all__ = [
    "BatchResult",
    "DeadFilter",
    "count_dead_matching",
    "delete_dead_batch",
    "requeue_dead_batch",
    "run_batches",
    "scan_count_dead",
]
