"""Cheap "is this message still live, and where" checks for the sweeper and reconciler (no positions)."""

from __future__ import annotations

import time

import redis

from reportsvc.queues.index import MESSAGE_INDEX_PREFIX as INDEX_PREFIX
from reportsvc.queues.index import resolve
from reportsvc.queues.keys import DEFAULT_NAMESPACE, QueueKeys, canonical_queue, heartbeats_key
from reportsvc.queues.locate import NOWHERE, Location, locate_entry


def locate_by_message_id(
    client: redis.Redis,
    message_id: str,
    *,
    dead_after_ms: int,
    namespace: str = DEFAULT_NAMESPACE,
) -> tuple[str | None, Location]:
    """(queue, location) of a Dramatiq message id via the message index: O(1), never a scan.

    A message id the index does not know (Redis restarted empty, or the entry
    expired) is reported as nowhere: PostgreSQL is the truth and the caller
    re-sends, relying on idempotent claims to absorb any duplicate.
    """
    indexed = resolve(client, message_id)
    if indexed is None:
        return None, Location(state=NOWHERE)
    queue, redis_id = indexed
    keys = QueueKeys.of(canonical_queue(queue), namespace)
    return keys.queue, locate_entry(client, keys, redis_id, with_position=False, dead_after_ms=dead_after_ms)


def surely_live(
    client: redis.Redis,
    message_ids: list[str],
    *,
    dead_after_ms: int,
    namespace: str = DEFAULT_NAMESPACE,
) -> set[str]:
    """The message ids that are certainly live, answered for a whole batch in two round trips.

    A message whose body is still in its queue's `.msgs` or `.DQ.msgs` hash is waiting,
    delayed or held; when no dead worker is registered, held means held by a live one.
    Everything else (unknown to the index, gone, dead-lettered, or possibly held by a dead
    worker) is left for the caller's exact per-message check.
    """
    if not message_ids:
        return set()
    raw = client.mget([INDEX_PREFIX + m for m in message_ids])
    located: list[tuple[str, QueueKeys, str]] = []
    for message_id, value in zip(message_ids, raw, strict=True):
        if value is None:
            continue
        queue, _, redis_id = (value.decode() if isinstance(value, bytes) else str(value)).partition("|")
        if redis_id:
            located.append((message_id, QueueKeys.of(canonical_queue(queue), namespace), redis_id))
    if not located:
        return set()
    pipe = client.pipeline(transaction=False)
    for _, keys, redis_id in located:
        pipe.hexists(keys.msgs, redis_id)
        pipe.hexists(keys.delayed_msgs, redis_id)
    pipe.zrangebyscore(heartbeats_key(namespace), "-inf", f"({time.time() * 1000 - dead_after_ms}")
    replies = pipe.execute()
    if _dead_workers_hold_anything(client, replies[-1], {keys for _, keys, _ in located}):
        return set()  # a dead worker may hold some of them: let the exact check decide for each
    return {m for i, (m, _, _) in enumerate(located) if replies[2 * i] or replies[2 * i + 1]}


def _dead_workers_hold_anything(client: redis.Redis, dead: list[bytes], queues: set[QueueKeys]) -> bool:
    # Silent producers (the web app only enqueues) look dead too, but hold nothing: count their ack sets.
    if not dead:
        return False
    pipe = client.pipeline(transaction=False)
    for worker in dead:
        name = worker.decode() if isinstance(worker, bytes) else str(worker)
        for keys in queues:
            pipe.scard(keys.acks(name))
            pipe.scard(keys.delayed_acks(name))
    return any(pipe.execute())
