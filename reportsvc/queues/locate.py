"""Where one message is now (waiting and at what position, delayed, held and by whom, dead, or nowhere).

Each answer costs a few O(1) reads, plus one bounded LPOS when a waiting message's position is asked for.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from reportsvc.queues.keys import DEFAULT_NAMESPACE, QueueKeys
from reportsvc.queues.messages import (
    DEAD,
    DELAYED,
    HELD,
    NO_REPORT_ACTORS,
    WAITING,
    MessageView,
    decode_message,
    to_str,
)
from reportsvc.queues.workers import DEFAULT_HEARTBEAT_TIMEOUT_MS, is_worker_alive

#: ``Location.state`` of a message in no state of the queue (acked, deleted, or never there).
NOWHERE = "nowhere"
#: How far down the waiting list a position is looked for; deeper ones report ``more_ahead``.
POSITION_SCAN_LIMIT = 10_000


@dataclass(frozen=True)
class Location:
    """Where a message is now: waiting (position from the head, 0 runs next), delayed, held, dead or nowhere."""

    state: str
    message: MessageView | None = None
    position: int | None = None
    eta: datetime | None = None
    worker_id: str | None = None
    worker_alive: bool | None = None
    dead_at: datetime | None = None
    more_ahead: bool = False  # waiting deeper than POSITION_SCAN_LIMIT: position unknown, at least that many ahead

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (datetimes stay datetimes)."""
        return dataclasses.asdict(self)


def locate_entry(
    client: redis.Redis,
    keys: QueueKeys,
    redis_id: str,
    *,
    with_position: bool,
    dead_after_ms: int,
    report_actors: Collection[str] = NO_REPORT_ACTORS,
    now_ms: float | None = None,
) -> Location:
    """Where entry ``redis_id`` of ``keys.queue`` is now; ``with_position`` adds a bounded LPOS if waiting.

    One transaction reads the three body hashes, the dead-letter score and the heartbeats; an entry still in
    ``q.msgs`` or ``q.DQ.msgs`` then costs one pipelined SISMEMBER per registered broker to find its holder,
    judged alive against ``dead_after_ms``. ``get_message`` and ``locate_message`` wrap it by queue name.
    """
    pipe = client.pipeline(transaction=True)
    pipe.hget(keys.msgs, redis_id)
    pipe.hget(keys.delayed_msgs, redis_id)
    pipe.hget(keys.dead_msgs, redis_id)
    pipe.zscore(keys.dead, redis_id)
    pipe.zrange(keys.heartbeats, 0, -1, withscores=True)
    body, delayed_body, dead_body, dead_score, beats = pipe.execute()
    now = time.time() * 1000.0 if now_ms is None else now_ms
    workers = [(to_str(m), float(s)) for m, s in beats]

    def holder(ack_of: Any) -> tuple[str | None, bool | None]:
        if not workers:
            return None, None
        p = client.pipeline(transaction=False)
        for w, _ in workers:
            p.sismember(ack_of(w), redis_id)
        for (w, beat), hit in zip(workers, p.execute(), strict=True):
            if hit:
                return w, is_worker_alive(beat, now, dead_after_ms)
        return None, None

    if body is not None:
        worker, alive = holder(keys.acks)
        if worker is not None:
            view = decode_message(
                body, redis_id=redis_id, state=HELD, queue=keys.queue, held_by=worker, report_actors=report_actors
            )
            return Location(state=HELD, message=view, worker_id=worker, worker_alive=alive)
        position = None
        if with_position:
            # LPOS walks the list, so it stops after POSITION_SCAN_LIMIT entries: a detail view that polls
            # stays O(limit) however deep the backlog; deeper messages report position=None, more_ahead=True.
            pos = client.lpos(keys.waiting, redis_id, maxlen=POSITION_SCAN_LIMIT)
            position = None if pos is None else int(pos)  # type: ignore[arg-type]
            if position is None and client.llen(keys.waiting) > POSITION_SCAN_LIMIT:
                view = decode_message(body, redis_id=redis_id, state=WAITING, queue=keys.queue,
                                      report_actors=report_actors)
                return Location(state=WAITING, message=view, position=None, more_ahead=True)
            if position is None:
                # In the hash, in no live ack set and not waiting: held by a process that left
                # the heartbeat set (only a crash mid-maintenance does that). Report it held.
                view = decode_message(
                    body, redis_id=redis_id, state=HELD, queue=keys.queue, report_actors=report_actors
                )
                return Location(state=HELD, message=view)
        view = decode_message(body, redis_id=redis_id, state=WAITING, queue=keys.queue, report_actors=report_actors)
        return Location(state=WAITING, message=view, position=position)
    if delayed_body is not None:
        worker, alive = holder(keys.delayed_acks)
        view = decode_message(
            delayed_body,
            redis_id=redis_id,
            state=DELAYED,
            queue=keys.queue,
            held_by=worker,
            report_actors=report_actors,
        )
        return Location(state=DELAYED, message=view, eta=view.eta, worker_id=worker, worker_alive=alive)
    if dead_body is not None:
        view = decode_message(
            dead_body,
            redis_id=redis_id,
            state=DEAD,
            queue=keys.queue,
            dead_at_ms=None if dead_score is None else float(dead_score),
            report_actors=report_actors,
        )
        return Location(state=DEAD, message=view, dead_at=view.dead_at)
    return Location(state=NOWHERE)


def get_message(
    client: redis.Redis,
    queue: str,
    redis_id: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    report_actors: Collection[str] = NO_REPORT_ACTORS,
) -> MessageView | None:
    """The message with Redis entry id ``redis_id`` in any state of ``queue``, or None (no LPOS)."""
    loc = locate_entry(
        client,
        QueueKeys.of(queue, namespace),
        redis_id,
        with_position=False,
        dead_after_ms=DEFAULT_HEARTBEAT_TIMEOUT_MS,
        report_actors=report_actors,
    )
    return loc.message


def locate_message(
    client: redis.Redis,
    queue: str,
    redis_id: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    dead_after_ms: int = DEFAULT_HEARTBEAT_TIMEOUT_MS,
    report_actors: Collection[str] = NO_REPORT_ACTORS,
    now_ms: float | None = None,
) -> Location:
    """Where ``redis_id`` is now; a waiting one gets its position via LPOS (O(n), detail views only)."""
    return locate_entry(
        client,
        QueueKeys.of(queue, namespace),
        redis_id,
        with_position=True,
        dead_after_ms=dead_after_ms,
        report_actors=report_actors,
        now_ms=now_ms,
    )
