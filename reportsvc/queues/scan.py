"""Whole-hash walks over a queue's live messages (HSCAN, O(n)): for the scheduler and one-off cancels, never a page."""

from __future__ import annotations

from collections.abc import Collection, Iterator

import redis

from reportsvc.queues.index import resolve
from reportsvc.queues.keys import DEFAULT_NAMESPACE, QueueKeys
from reportsvc.queues.messages import (
    DELAYED,
    HELD,
    NO_REPORT_ACTORS,
    WAITING,
    MessageView,
    decode_message,
    to_bytes,
    to_str,
)
from reportsvc.queues.workers import worker_beats


def iter_live_messages(
    client: redis.Redis,
    queue: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    scan_count: int = 500,
    report_actors: Collection[str] = NO_REPORT_ACTORS,
) -> Iterator[MessageView]:
    """Every not-yet-finished message (waiting, held, delayed) by HSCAN: O(n), for the scheduler only."""
    keys = QueueKeys.of(queue, namespace)
    held: dict[str, str] = {}
    for w, _ in worker_beats(client, keys):
        for m in client.sscan_iter(keys.acks(w)):
            held[to_str(m)] = w
    for rid, body in client.hscan_iter(keys.msgs, count=scan_count):
        r = to_str(rid)
        state = HELD if r in held else WAITING
        yield decode_message(
            body, redis_id=r, state=state, queue=keys.queue, held_by=held.get(r), report_actors=report_actors
        )
    for rid, body in client.hscan_iter(keys.delayed_msgs, count=scan_count):
        yield decode_message(body, redis_id=to_str(rid), state=DELAYED, queue=keys.queue, report_actors=report_actors)


def find_by_message_id(
    client: redis.Redis,
    queue: str,
    message_id: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    scan_count: int = 1000,
) -> list[tuple[str, str]]:
    """(state hash, Redis id) of live entries carrying Dramatiq ``message_id``: HSCAN, O(n).

    A report row stores Dramatiq's ``message_id``, which Redis never indexes; an id that is a
    Redis entry id is answered in O(1). Otherwise this walks ``q.msgs`` and ``q.DQ.msgs``
    (non-blocking, but proportional to the backlog): fine for one cancel, not for a list.
    """
    keys = QueueKeys.of(queue, namespace)
    pipe = client.pipeline(transaction=False)
    pipe.hexists(keys.msgs, message_id)
    pipe.hexists(keys.delayed_msgs, message_id)
    in_msgs, in_delayed = pipe.execute()
    if in_msgs or in_delayed:
        return [(keys.msgs if in_msgs else keys.delayed_msgs, message_id)]
    indexed = resolve(client, message_id)
    if indexed is not None:
        # The index names the latest enqueue: O(1), and absent from both hashes means it is not live.
        rid = indexed[1]
        pipe = client.pipeline(transaction=False)
        pipe.hexists(keys.msgs, rid)
        pipe.hexists(keys.delayed_msgs, rid)
        in_msgs, in_delayed = pipe.execute()
        if in_msgs:
            return [(keys.msgs, rid)]
        if in_delayed:
            return [(keys.delayed_msgs, rid)]
        return []
    needle = f'"message_id":"{message_id}"'.encode()
    found = []
    for hash_key in (keys.msgs, keys.delayed_msgs):
        for rid, body in client.hscan_iter(hash_key, count=scan_count):
            if needle in to_bytes(body):
                found.append((hash_key, to_str(rid)))
    return found
