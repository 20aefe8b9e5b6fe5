"""Increments as a :class:`Batch`, and the one pipelined ``HINCRBY`` round trip that adds a batch to
the Redis counters hash (``COUNTERS_KEY``) every process shares."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis

from reportsvc.metrics.series import COUNTERS_KEY, HISTOGRAMS, field_name, le_label
from reportsvc.redis_client import RedisTarget, client_for

if TYPE_CHECKING:
    from reportsvc.config import Settings

log = logging.getLogger("reportsvc.metrics")


@dataclass
class Batch:
    """Increments not yet pushed to Redis."""

    ints: dict[str, int]
    floats: dict[str, float]

    def __init__(self) -> None:
        self.ints = {}
        self.floats = {}

    def inc(self, name: str, labels: dict[str, object] | None = None, amount: int = 1) -> None:
        """Add ``amount`` to one counter series."""
        key = field_name(name, labels)
        self.ints[key] = self.ints.get(key, 0) + amount

    def observe(self, name: str, value: float, labels: dict[str, object] | None = None) -> None:
        """Count one histogram observation: its bucket, ``_count`` and ``_sum``."""
        buckets = HISTOGRAMS[name][1]
        labels = dict(labels or {})
        bound = next(b for b in buckets if value <= b)
        self.inc(name + "_bucket", {**labels, "le": le_label(bound)})
        self.inc(name + "_count", labels)
        key = field_name(name + "_sum", labels)
        self.floats[key] = self.floats.get(key, 0.0) + float(value)

    def merge(self, other: Batch) -> None:
        """Add another batch's increments to this one."""
        for k, n in other.ints.items():
            self.ints[k] = self.ints.get(k, 0) + n
        for k, x in other.floats.items():
            self.floats[k] = self.floats.get(k, 0.0) + x

    def __bool__(self) -> bool:
        return bool(self.ints or self.floats)


_target: RedisTarget | None = None


def configure(settings: Settings) -> None:
    """Where counters go: create_app's Redis (through Sentinel when configured)."""
    global _target
    _target = RedisTarget.of(settings)


def _client() -> redis.Redis | None:
    if _target is None:
        return None
    return client_for(_target)


def push(batch: Batch, client: redis.Redis | None = None) -> None:
    """Add a batch to the Redis counters in one round trip; a Redis outage loses the batch, never the job."""
    if not batch:
        return
    client = client or _client()
    if client is None:
        return
    try:
        pipe = client.pipeline(transaction=False)
        for key, n in batch.ints.items():
            pipe.hincrby(COUNTERS_KEY, key, n)
        for key, x in batch.floats.items():
            pipe.hincrbyfloat(COUNTERS_KEY, key, x)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("metrics not pushed (Redis: %s)", exc)
