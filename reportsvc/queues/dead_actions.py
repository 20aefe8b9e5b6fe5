"""Requeue or delete given dead letters by Redis id: each chunk is one Lua script that first checks
the letter is still where the caller saw it, so a repeated or concurrent call is a no-op, never a
duplicate.

Guarantees:

* ``requeue_dead_ids`` (and ``requeue_dead_batch``, which uses
  :func:`requeue_rows`): an id moves from ``q.XQ`` to the tail of ``q`` at most
  once per dead-lettering, exactly as Dramatiq's enqueue stores it (``HSET q.msgs`` + ``RPUSH q``),
  keeping its Redis id and Dramatiq ``message_id``; the body gets ``retries`` 0 and loses
  ``eta``/``traceback``/``requeue_timestamp``. The rewrite happens in Python (Redis' cjson would
  turn ``[]`` into ``{}`` and round big integers) and the script compares the letter's ZSET score
  with the one read, so a letter that was requeued, died again and got a new score is not
  touched with a stale body.
* with a ``route`` (Redis id -> target queue), letters routed to another queue move there instead, with the
  same guard (:mod:`.dead_move`); the rest go back to their own queue.
* ``delete_dead_ids`` (and ``delete_dead_batch``, through :func:`delete_rows`):
  ZREM + HDEL of letters still present.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

import redis

from reportsvc.queues.dead_move import move_rows
from reportsvc.queues.keys import DEFAULT_NAMESPACE, QueueKeys
from reportsvc.queues.messages import DEAD, NO_REPORT_ACTORS, MessageView, decode_message, rewrite_for_requeue, to_str

DEFAULT_BATCH = 500

#: Where a letter goes: Redis id -> target queue name, or None for the letter's own queue.
Route = Callable[[str], str | None]

_REQUEUE_LUA = """
local dead, dead_msgs, msgs, waiting = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local moved = {}
for i = 1, #ARGV, 3 do
  local id, expected, body = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local score = redis.call('zscore', dead, id)
  if score and tonumber(score) == tonumber(expected) and redis.call('hexists', msgs, id) == 0 then
    redis.call('zrem', dead, id)
    redis.call('hdel', dead_msgs, id)
    redis.call('hset', msgs, id, body)
    redis.call('rpush', waiting, id)
    table.insert(moved, id)
  end
end
return moved
"""

_DELETE_LUA = """
local dead, dead_msgs = KEYS[1], KEYS[2]
local removed = {}
for i = 1, #ARGV, 2 do
  local id, expected = ARGV[i], ARGV[i + 1]
  local score = redis.call('zscore', dead, id)
  if score and (expected == '' or tonumber(score) == tonumber(expected)) then
    redis.call('zrem', dead, id)
    redis.call('hdel', dead_msgs, id)
    table.insert(removed, id)
  end
end
return removed
"""


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def requeue_rows(client: redis.Redis, keys: QueueKeys, rows: list[tuple[str, float, Any]]) -> list[str]:
    """Requeue ``(id, score seen, body)`` rows in one script call; returns the ids that moved."""
    args: list[Any] = []
    for rid, score, body in rows:
        if body is None:
            continue
        args += [rid, repr(score), rewrite_for_requeue(body, keys.queue)]
    if not args:
        return []
    script = client.register_script(_REQUEUE_LUA)
    return [to_str(x) for x in script(keys=[keys.dead, keys.dead_msgs, keys.msgs, keys.waiting], args=args)]


def requeue_routed(
    client: redis.Redis, keys: QueueKeys, rows: list[tuple[str, float, Any]], route: Route | None
) -> list[str]:
    """Requeue rows, each to the queue ``route`` names (one script call per target queue); the ids that moved."""
    if route is None:
        return requeue_rows(client, keys, rows)
    by_target: dict[str, list[tuple[str, float, Any]]] = {}
    for row in rows:
        by_target.setdefault(route(row[0]) or keys.queue, []).append(row)
    moved: list[str] = []
    for target, group in by_target.items():
        if target == keys.queue:
            moved += requeue_rows(client, keys, group)
        else:
            moved += move_rows(client, keys, QueueKeys.of(target, keys.namespace), group)
    return moved


def delete_rows(client: redis.Redis, keys: QueueKeys, rows: Sequence[tuple[str, float | None, Any]]) -> list[str]:
    """Delete ``(id, score seen or None for any, _)`` rows still at that score in one script call; the ids removed."""
    args: list[str] = []
    for rid, score, _ in rows:
        args += [rid, "" if score is None else repr(float(score))]
    return [to_str(x) for x in client.register_script(_DELETE_LUA)(keys=[keys.dead, keys.dead_msgs], args=args)]


def _scores_and_bodies(client: redis.Redis, keys: QueueKeys, ids: list[str]) -> list[tuple[str, Any, Any]]:
    # One round trip: each id's dead-letter score and body (None where it is not a dead letter now).
    pipe = client.pipeline(transaction=True)
    pipe.zmscore(keys.dead, ids)
    pipe.hmget(keys.dead_msgs, ids)
    scores, bodies = pipe.execute()
    return list(zip(ids, scores, bodies, strict=True))


def read_dead(
    client: redis.Redis,
    queue: str,
    redis_ids: Iterable[str],
    *,
    namespace: str = DEFAULT_NAMESPACE,
    report_actors: Collection[str] = NO_REPORT_ACTORS,
) -> list[MessageView]:
    """The given ids that are dead letters now (ZMSCORE + HMGET, one round trip); absent ids are left out."""
    keys = QueueKeys.of(queue, namespace)
    ids = list(dict.fromkeys(redis_ids))
    if not ids:
        return []
    return [
        decode_message(b, redis_id=rid, state=DEAD, queue=keys.queue, dead_at_ms=float(s), report_actors=report_actors)
        for rid, s, b in _scores_and_bodies(client, keys, ids)
        if s is not None and b is not None
    ]


def requeue_dead_ids(
    client: redis.Redis,
    queue: str,
    redis_ids: Iterable[str],
    *,
    namespace: str = DEFAULT_NAMESPACE,
    batch_size: int = DEFAULT_BATCH,
    expected_dead_ms: dict[str, float] | None = None,
    route: Route | None = None,
) -> list[str]:
    """Move the given dead letters back to the tail of the waiting list; returns the ids that moved.

    ``expected_dead_ms`` (id -> score the caller saw) makes the script refuse a letter that died
    again since (a different dead-lettering than the one the operator looked at). ``route`` sends
    letters to another queue's waiting list instead (a lane change).
    """
    keys = QueueKeys.of(queue, namespace)
    ids = list(dict.fromkeys(redis_ids))
    moved: list[str] = []
    for chunk in _chunks(ids, batch_size):
        rows = []
        for rid, s, b in _scores_and_bodies(client, keys, chunk):
            if s is None:
                continue
            seen = (expected_dead_ms or {}).get(rid)
            rows.append((rid, float(s) if seen is None else seen, b))
        moved += requeue_routed(client, keys, rows, route)
    return moved


def delete_dead_ids(
    client: redis.Redis,
    queue: str,
    redis_ids: Iterable[str],
    *,
    namespace: str = DEFAULT_NAMESPACE,
    batch_size: int = DEFAULT_BATCH,
    expected_dead_ms: dict[str, float] | None = None,
) -> list[str]:
    """Delete the given dead letters; returns the ids that were still there (and, if given, at the seen score)."""
    keys = QueueKeys.of(queue, namespace)
    seen = expected_dead_ms or {}
    removed: list[str] = []
    for chunk in _chunks(list(dict.fromkeys(redis_ids)), batch_size):
        removed += delete_rows(client, keys, [(rid, seen.get(rid), None) for rid in chunk])
    return removed


__all__ = [
    "DEFAULT_BATCH",
    "delete_dead_ids",
    "delete_rows",
    "read_dead",
    "requeue_dead_ids",
    "requeue_routed",
    "requeue_rows",
    "Route",
]
