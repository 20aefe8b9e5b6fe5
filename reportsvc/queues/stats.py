"""Queue counters in one round trip, and queue discovery for the scheduler."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from reportsvc.queues.keys import DEFAULT_NAMESPACE, DQ_SUFFIX, XQ_SUFFIX, QueueKeys, canonical_queue
from reportsvc.queues.messages import to_str


@dataclass(frozen=True)
class QueueStats:
    """Counters of one queue; ``held`` = fetched by a worker and not yet acked."""

    queue: str
    waiting: int
    delayed: int
    held: int
    dead: int
    next_enqueued_ms: int | None
    next_age_s: float | None

    @property
    def total(self) -> int:
        """Messages not yet finished (waiting + delayed + held); dead letters excluded."""
        return self.waiting + self.delayed + self.held

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (datetimes stay datetimes)."""
        return dataclasses.asdict(self)


def _build_stats(keys: QueueKeys, replies: list[Any], head_body: Any, now_ms: float) -> QueueStats:
    waiting, msgs, delayed, dead, _head = replies
    enqueued_ms: int | None = None
    if head_body is not None:
        try:
            stamp = json.loads(to_str(head_body)).get("message_timestamp")
            enqueued_ms = int(stamp) if isinstance(stamp, int | float) else None
        except ValueError:
            enqueued_ms = None
    return QueueStats(
        queue=keys.queue,
        waiting=int(waiting),
        delayed=int(delayed),
        # A fetch (LPOP + SADD) and an ack (SREM + HDEL) are each atomic and the counts are read in
        # one script, so msgs - waiting is exactly the held count; the clamp is belt and braces.
        held=max(0, int(msgs) - int(waiting)),
        dead=int(dead),
        next_enqueued_ms=enqueued_ms,
        next_age_s=None if enqueued_ms is None else max(0.0, (now_ms - enqueued_ms) / 1000.0),
    )


def queue_stats(
    client: redis.Redis, queue: str, *, namespace: str = DEFAULT_NAMESPACE, now_ms: float | None = None
) -> QueueStats:
    """Counts of one queue in one round trip: LLEN/HLEN/ZCARD and the head's body, one consistent read."""
    return all_queue_stats(client, [queue], namespace=namespace, now_ms=now_ms)[0]


# A pipeline cannot HGET the head's body without a second round trip, and its counts are not one
# snapshot; a read-only script is both one round trip and consistent. O(number of queues).
_STATS_LUA = """
local out = {}
for i = 1, #KEYS, 4 do
  local head = redis.call('lindex', KEYS[i], 0)
  local body = false
  if head then body = redis.call('hget', KEYS[i + 1], head) end
  table.insert(out, redis.call('llen', KEYS[i]))
  table.insert(out, redis.call('hlen', KEYS[i + 1]))
  table.insert(out, redis.call('hlen', KEYS[i + 2]))
  table.insert(out, redis.call('zcard', KEYS[i + 3]))
  table.insert(out, body)
end
return out
"""


def all_queue_stats(
    client: redis.Redis,
    queues: Iterable[str],
    *,
    namespace: str = DEFAULT_NAMESPACE,
    now_ms: float | None = None,
) -> list[QueueStats]:
    """Counts of several queues in one round trip (one read-only script call, O(number of queues))."""
    all_keys = [QueueKeys.of(q, namespace) for q in queues]
    if not all_keys:
        return []
    flat: list[str] = []
    for k in all_keys:
        flat += [k.waiting, k.msgs, k.delayed_msgs, k.dead]
    raw = client.register_script(_STATS_LUA)(keys=flat)
    now = time.time() * 1000.0 if now_ms is None else now_ms
    out = []
    for i, k in enumerate(all_keys):
        waiting, msgs, delayed, dead, body = raw[i * 5 : i * 5 + 5]
        out.append(_build_stats(k, [waiting, msgs, delayed, dead, None], body or None, now))
    return out


def discover_queues(client: redis.Redis, *, namespace: str = DEFAULT_NAMESPACE, scan_count: int = 1000) -> list[str]:
    """Canonical queue names that have any message or dead letter (SCAN: scheduler only, cache it)."""
    found: set[str] = set()
    prefix = f"{namespace}:"
    for raw_key in client.scan_iter(match=f"{namespace}:*.msgs", count=scan_count):
        name = to_str(raw_key)[len(prefix) : -len(".msgs")]
        if name.startswith("__"):
            continue
        found.add(canonical_queue(name))
    # A queue whose messages are all held still has its .msgs hash; an ack-only leftover does not
    # name a queue worth showing, so ack sets are not scanned.
    return sorted(q for q in found if not q.endswith(DQ_SUFFIX) and not q.endswith(XQ_SUFFIX))


#: SET of queue names found by :func:`refresh_discovered_queues` (written by the scheduler).
DISCOVERED_KEY = "reportsvc:queues:discovered"
#: How long a discovery result stays valid if the scheduler stops refreshing it.
DISCOVERED_TTL_S = 3600


def refresh_discovered_queues(
    client: redis.Redis, *, namespace: str = DEFAULT_NAMESPACE, ttl_s: int = DISCOVERED_TTL_S
) -> list[str]:
    """SCAN for queues (see :func:`discover_queues`) and cache the names; scheduler/maintenance only."""
    found = discover_queues(client, namespace=namespace)
    pipe = client.pipeline(transaction=True)
    pipe.delete(DISCOVERED_KEY)
    if found:
        pipe.sadd(DISCOVERED_KEY, *found)
        pipe.expire(DISCOVERED_KEY, ttl_s)
    pipe.execute()
    return found


def known_queues(client: redis.Redis, declared: Iterable[str] = ()) -> list[str]:
    """Declared queues plus the cached discovery (SMEMBERS of a small set: fine on a request path)."""
    cached = {to_str(q) for q in client.smembers(DISCOVERED_KEY)}  # type: ignore[union-attr]
    names = {canonical_queue(q) for q in declared} | cached
    return sorted(names)
