"""Liveness and history kept in Redis beside the counters: worker-alive beats (a ZSET scored by the
last beat) and queue-depth samples (a capped list the dashboard draws)."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

import redis

WORKERS_KEY = "reportsvc:metrics:workers"
DEPTHS_KEY = "reportsvc:metrics:depths"
DEPTHS_GATE_KEY = "reportsvc:metrics:depths:gate"
#: One queue-depth sample per this many seconds at most (whoever samples first wins the gate).
DEPTH_SAMPLE_SECONDS = 10
#: Samples kept: one hour at one per 10 s (LTRIM keeps the list capped).
DEPTH_SAMPLES_KEPT = 360
WORKER_BEAT_SECONDS = 5.0


def worker_name() -> str:
    """host:pid of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def beat_worker(client: redis.Redis, name: str | None = None) -> None:
    """Mark this worker process alive now (and drop entries dead for an hour)."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.zadd(WORKERS_KEY, {name or worker_name(): now})
    pipe.zremrangebyscore(WORKERS_KEY, 0, now - 3600)
    pipe.execute()


def forget_worker(client: redis.Redis, name: str | None = None) -> None:
    """This worker process is shutting down."""
    client.zrem(WORKERS_KEY, name or worker_name())


def workers_alive(client: redis.Redis, now: float | None = None, *, dead_after: float | None = None) -> int:
    """Worker processes that beat within `dead_after` seconds (default: REPORT_LOCK_SECONDS, the one definition
    of a live worker that GET /workers, Dramatiq and the stall sweep use too) (ZCOUNT: O(log n))."""
    now = time.time() if now is None else now
    if dead_after is None:
        from reportsvc.config import get_settings

        dead_after = float(get_settings().report_lock_seconds)
    return int(client.zcount(WORKERS_KEY, now - dead_after, "+inf"))


def sample_depths(client: redis.Redis, queues: Sequence[str], *, force: bool = False) -> bool:
    """Append one queue-depth sample to the capped list if nobody did in the last DEPTH_SAMPLE_SECONDS."""
    import json

    from reportsvc.queues.stats import all_queue_stats

    if not force and not client.set(DEPTHS_GATE_KEY, "1", nx=True, ex=DEPTH_SAMPLE_SECONDS):
        return False
    stats = all_queue_stats(client, queues)
    sample = {"t": round(time.time(), 1),
              "q": {s.queue: [s.waiting, s.delayed, s.held, s.dead] for s in stats}}
    pipe = client.pipeline(transaction=False)
    pipe.lpush(DEPTHS_KEY, json.dumps(sample, separators=(",", ":")))
    pipe.ltrim(DEPTHS_KEY, 0, DEPTH_SAMPLES_KEPT - 1)
    pipe.execute()
    return True


def depth_samples(client: redis.Redis, since: float | None = None) -> list[dict[str, Any]]:
    """Samples oldest first (LRANGE of a list capped at DEPTH_SAMPLES_KEPT)."""
    import json

    out = []
    for raw in client.lrange(DEPTHS_KEY, 0, DEPTH_SAMPLES_KEPT - 1):
        with contextlib.suppress(ValueError):
            sample = json.loads(raw)
            if since is None or sample.get("t", 0) >= since:
                out.append(sample)
    out.reverse()
    return out
