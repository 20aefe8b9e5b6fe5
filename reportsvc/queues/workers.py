"""Broker processes seen in Dramatiq's heartbeat ZSET, with what each one holds.

Dramatiq 2.2 has no separate heartbeat: every dispatch call (fetch, enqueue, ack, ...) does
``ZADD __heartbeats__ <now> <broker_id>`` first. So a process that only enqueues (the web
app, the scheduler) *does* appear here under its broker id, holds nothing, and looks dead
once it has not enqueued for the timeout; Dramatiq's maintenance then drops it because it
has no ack sets. A running worker beats at least every ``worker_timeout`` (1 s by default)
through its delay-queue consumer, whose prefetch is never full, even when every worker
thread is busy.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from reportsvc.queues.keys import DEFAULT_NAMESPACE, QueueKeys, heartbeats_key
from reportsvc.queues.messages import ms_to_datetime, to_str

#: Dramatiq's ``DEFAULT_HEARTBEAT_TIMEOUT``: a worker silent this long is dead to maintenance.
DEFAULT_HEARTBEAT_TIMEOUT_MS = 60_000


@dataclass(frozen=True)
class WorkerInfo:
    """One broker id from the heartbeat ZSET and the ids it holds per queue (``q`` and ``q.DQ``)."""

    worker_id: str
    last_beat_ms: int
    last_beat: datetime
    age_s: float
    alive: bool
    held: dict[str, int] = field(default_factory=dict)

    @property
    def held_total(self) -> int:
        """Messages this worker holds across the queues asked about."""
        return sum(self.held.values())

    @property
    def consumer(self) -> bool:
        """True when it holds anything; a process that only enqueues never does."""
        return self.held_total > 0

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (datetimes stay datetimes)."""
        return dataclasses.asdict(self)


def is_worker_alive(last_beat_ms: float | None, now_ms: float, dead_after_ms: int) -> bool:
    """Dramatiq's rule: dead once ``last beat <= now - timeout`` (maintenance uses ZRANGEBYSCORE 0 .. that)."""
    return last_beat_ms is not None and last_beat_ms > now_ms - dead_after_ms


def worker_beats(client: redis.Redis, keys: QueueKeys) -> list[tuple[str, float]]:
    """Every broker id in the heartbeat ZSET with its last beat (epoch ms), in ZSET order."""
    # The heartbeat set has one entry per broker process seen in the last minute or so (and
    # until maintenance prunes dead ones), so reading it whole is bounded by the fleet size.
    entries: Any = client.zrange(keys.heartbeats, 0, -1, withscores=True)
    return [(to_str(m), float(s)) for m, s in entries]


def list_workers(
    client: redis.Redis,
    namespace: str = DEFAULT_NAMESPACE,
    queues: Iterable[str] = (),
    dead_after_ms: int = DEFAULT_HEARTBEAT_TIMEOUT_MS,
    *,
    limit: int = 500,
    now_ms: float | None = None,
) -> list[WorkerInfo]:
    """Most recently seen first: ZREVRANGE of heartbeats + one SCARD per (worker, queue), two round trips."""
    now = time.time() * 1000.0 if now_ms is None else now_ms
    entries: Any = client.zrevrange(heartbeats_key(namespace), 0, max(0, limit - 1), withscores=True)
    queue_names: list[str] = []
    for q in queues:
        k = QueueKeys.of(q, namespace)
        queue_names += [k.queue, k.delay_queue]
    workers = [(to_str(member), int(score)) for member, score in entries]
    counts: list[int] = []
    if workers and queue_names:
        pipe = client.pipeline(transaction=False)
        for worker_id, _ in workers:
            for name in queue_names:
                pipe.scard(f"{namespace}:__acks__.{worker_id}.{name}")
        counts = [int(c) for c in pipe.execute()]
    out = []
    for i, (worker_id, beat) in enumerate(workers):
        held = {}
        for j, name in enumerate(queue_names):
            held[name] = counts[i * len(queue_names) + j] if counts else 0
        dt = ms_to_datetime(beat)
        assert dt is not None
        out.append(
            WorkerInfo(
                worker_id=worker_id,
                last_beat_ms=beat,
                last_beat=dt,
                age_s=max(0.0, (now - beat) / 1000.0),
                alive=is_worker_alive(beat, now, dead_after_ms),
                held=held,
            )
        )
    return out
