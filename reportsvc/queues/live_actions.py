"""Operator actions on live (not dead) messages: promote a delayed one, release what a dead worker
holds, remove a pending one. Each mutation is one Lua script that first checks the entry is still
where the caller saw it, so a repeated or concurrent call is a no-op (0/False), never a duplicate.

Guarantees, per action:

* ``promote_delayed``: see its docstring; it never creates a second copy unless ``force=True``.
* ``release_held`` / ``release_dead_worker``: Dramatiq's own dead-worker maintenance, for one id or
  one worker, refusing a worker whose heartbeat is fresh unless ``force=True``.
* ``remove_pending``: only a message still in its list (not fetched by a worker) is removed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import redis

from reportsvc.queues.keys import DEFAULT_NAMESPACE, DQ_SUFFIX, QueueKeys, ack_key, canonical_queue
from reportsvc.queues.messages import rewrite_for_promote
from reportsvc.queues.scan import find_by_message_id
from reportsvc.queues.workers import DEFAULT_HEARTBEAT_TIMEOUT_MS

# KEYS: DQ list, DQ hash, q hash, q list, heartbeats.
# ARGV: id, body as read, new body, acks prefix ("<ns>:__acks__."), DQ name, now, dead_after, force.
# Returns 1 moved, 0 gone/changed, -1 held in a live worker's memory (refused).
_PROMOTE_LUA = """
local dq, dq_msgs, msgs, waiting, beats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id, seen, body = ARGV[1], ARGV[2], ARGV[3]
local prefix, dq_name = ARGV[4], ARGV[5]
local now, dead_after, force = tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8] == '1'
if redis.call('hget', dq_msgs, id) ~= seen or redis.call('hexists', msgs, id) == 1 then
  return 0
end
if redis.call('lrem', dq, 1, id) == 0 then
  local workers = redis.call('zrange', beats, 0, -1, 'WITHSCORES')
  for i = 1, #workers, 2 do
    local acks = prefix .. workers[i] .. '.' .. dq_name
    if redis.call('sismember', acks, id) == 1 then
      if tonumber(workers[i + 1]) > now - dead_after and not force then
        return -1
      end
      redis.call('srem', acks, id)
    end
  end
end
redis.call('hdel', dq_msgs, id)
redis.call('hset', msgs, id, body)
redis.call('rpush', waiting, id)
return 1
"""

# Dramatiq's maintenance for one id: SREM from the ack set, RPUSH back if the body still exists.
# KEYS: ack set, msgs hash, list, heartbeats. ARGV: id, worker, now, dead_after, force.
_RELEASE_HELD_LUA = """
local acks, msgs, waiting, beats = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, worker = ARGV[1], ARGV[2]
local now, dead_after, force = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1'
local beat = redis.call('zscore', beats, worker)
if beat and tonumber(beat) > now - dead_after and not force then
  return -1
end
if redis.call('srem', acks, id) == 0 then
  return 0
end
if redis.call('hexists', msgs, id) == 1 then
  redis.call('rpush', waiting, id)
  return 1
end
return 0
"""

# Dramatiq's maintenance for one worker over the given queue names (q and q.DQ each).
# KEYS: heartbeats. ARGV: worker, now, dead_after, force, remove_heartbeat, namespace, names...
_RELEASE_WORKER_LUA = """
local beats = KEYS[1]
local worker, now, dead_after = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local force, drop_beat, ns = ARGV[4] == '1', ARGV[5] == '1', ARGV[6]
local beat = redis.call('zscore', beats, worker)
if beat and tonumber(beat) > now - dead_after and not force then
  return -1
end
local moved = 0
for i = 7, #ARGV do
  local name = ARGV[i]
  local acks = ns .. ':__acks__.' .. worker .. '.' .. name
  local ids = redis.call('smembers', acks)
  for _, id in ipairs(ids) do
    if redis.call('hexists', ns .. ':' .. name .. '.msgs', id) == 1 then
      redis.call('rpush', ns .. ':' .. name, id)
      moved = moved + 1
    end
  end
  redis.call('del', acks)
end
if drop_beat then
  redis.call('zrem', beats, worker)
end
return moved
"""


# KEYS: list, hash. ARGV: ids. Only ids still in the list (waiting / not fetched) are removed.
_REMOVE_PENDING_LUA = """
local list, msgs = KEYS[1], KEYS[2]
local removed = 0
for i = 1, #ARGV do
  if redis.call('lrem', list, 1, ARGV[i]) > 0 then
    redis.call('hdel', msgs, ARGV[i])
    removed = removed + 1
  end
end
return removed
"""


class WorkerAliveError(RuntimeError):
    """The worker's heartbeat is fresh: releasing what it holds would run those messages twice."""


def _now(now_ms: float | None) -> float:
    return time.time() * 1000.0 if now_ms is None else now_ms


def promote_delayed(
    client: redis.Redis,
    queue: str,
    redis_id: str,
    *,
    force: bool = False,
    namespace: str = DEFAULT_NAMESPACE,
    dead_after_ms: int = DEFAULT_HEARTBEAT_TIMEOUT_MS,
    now_ms: float | None = None,
) -> bool:
    """Make a delayed message run now; True if moved, False if gone or held by a live worker.

    A delayed message's body sits in ``q.DQ.msgs``; its id is either still in the ``q.DQ`` list
    (no delay consumer fetched it) or in ``__acks__.<worker>.q.DQ`` while that worker keeps it in
    memory until the eta, then enqueues a copy (new Redis id, same ``message_id``) on ``q`` and
    acks the DQ entry. Nothing in Redis can stop that in-memory copy, so:

    * in the DQ list, or held by a worker whose heartbeat is stale (the case Dramatiq's own
      maintenance would hand to another worker): the script removes it from the DQ side and
      enqueues it on ``q`` under the same Redis id with ``eta`` removed and ``queue_name`` = ``q``
      (what the worker would have enqueued). It runs once.
    * held by a live worker: refused (False), because promoting would run it twice. With
      ``force=True`` it is promoted anyway and the worker's copy still runs at the eta; use that
      only for idempotent actors.
    """
    keys = QueueKeys.of(queue, namespace)
    seen = client.hget(keys.delayed_msgs, redis_id)
    if seen is None:
        return False
    new_body = rewrite_for_promote(seen, keys.queue)
    result = client.register_script(_PROMOTE_LUA)(
        keys=[keys.delayed, keys.delayed_msgs, keys.msgs, keys.waiting, keys.heartbeats],
        args=[
            redis_id,
            seen,
            new_body,
            f"{namespace}:__acks__.",
            keys.delay_queue,
            repr(_now(now_ms)),
            dead_after_ms,
            "1" if force else "0",
        ],
    )
    return int(result) == 1


def release_held(
    client: redis.Redis,
    queue: str,
    redis_id: str,
    worker_id: str,
    *,
    force: bool = False,
    namespace: str = DEFAULT_NAMESPACE,
    dead_after_ms: int = DEFAULT_HEARTBEAT_TIMEOUT_MS,
    now_ms: float | None = None,
) -> bool:
    """Put one id held by a dead worker back on its list (``queue`` may be ``q.DQ``); False if refused/gone.

    Exactly Dramatiq's maintenance for that id: SREM from ``__acks__.<worker>.<queue>`` and, if the
    body is still in ``<queue>.msgs``, RPUSH it on ``<queue>``. A worker absent from the heartbeat
    set counts as dead. ``force=True`` releases from a live worker too; that worker will still
    finish its copy (and its ack then leaves the body in place), so the message runs twice.
    """
    name = _queue_name(queue)
    msgs, waiting = f"{namespace}:{name}.msgs", f"{namespace}:{name}"
    result = client.register_script(_RELEASE_HELD_LUA)(
        keys=[ack_key(worker_id, name, namespace), msgs, waiting, f"{namespace}:__heartbeats__"],
        args=[redis_id, worker_id, repr(_now(now_ms)), dead_after_ms, "1" if force else "0"],
    )
    return int(result) == 1


def release_dead_worker(
    client: redis.Redis,
    worker_id: str,
    queues: Iterable[str],
    *,
    force: bool = False,
    remove_heartbeat: bool = True,
    namespace: str = DEFAULT_NAMESPACE,
    dead_after_ms: int = DEFAULT_HEARTBEAT_TIMEOUT_MS,
    now_ms: float | None = None,
) -> int:
    """Release everything a dead worker holds on ``queues`` (and their .DQ) and drop its heartbeat.

    Returns how many ids went back to a list; raises :class:`WorkerAliveError` if the heartbeat is
    fresh and not ``force``. Dramatiq's maintenance drops the heartbeat only once no ack set of the
    worker is left (it uses KEYS); this reads no keyspace, so pass every queue the worker may have
    consumed (the configured queues, or the scheduler's cached ``discover_queues``), or pass
    ``remove_heartbeat=False`` to leave the final cleanup to Dramatiq's maintenance.
    """
    names: list[str] = []
    for q in queues:
        k = QueueKeys.of(q, namespace)
        names += [k.queue, k.delay_queue]
    result = int(
        client.register_script(_RELEASE_WORKER_LUA)(
            keys=[f"{namespace}:__heartbeats__"],
            args=[
                worker_id,
                repr(_now(now_ms)),
                dead_after_ms,
                "1" if force else "0",
                "1" if remove_heartbeat else "0",
                namespace,
                *dict.fromkeys(names),
            ],
        )
    )
    if result < 0:
        raise WorkerAliveError(f"worker {worker_id} has a fresh heartbeat; pass force=True to release anyway")
    return result


def remove_pending(client: redis.Redis, queue: str, message_id: str, *, namespace: str = DEFAULT_NAMESPACE) -> bool:
    """Drop a not-yet-fetched message (waiting, or delayed still in the DQ list); True if one was removed.

    ``message_id`` may be a Redis entry id (O(1)) or Dramatiq's ``message_id`` (found by HSCAN,
    O(backlog), see :func:`find_by_message_id`). A message already fetched by a worker (held,
    or delayed in a worker's memory) is left alone: only that worker can finish it, so the
    actor must skip it (reportsvc skips CANCELLED reports).
    """
    keys = QueueKeys.of(queue, namespace)
    removed = 0
    script = client.register_script(_REMOVE_PENDING_LUA)
    for hash_key, rid in find_by_message_id(client, queue, message_id, namespace=namespace):
        list_key = keys.waiting if hash_key == keys.msgs else keys.delayed
        removed += int(script(keys=[list_key, hash_key], args=[rid]))
    return removed > 0


def _queue_name(queue: str) -> str:
    # Held ids live in per-queue-name ack sets: "q" for running messages, "q.DQ" for delayed ones.
    return canonical_queue(queue) + (DQ_SUFFIX if queue.endswith(DQ_SUFFIX) else "")


__all__ = [
    "WorkerAliveError",
    "promote_delayed",
    "release_dead_worker",
    "release_held",
    "remove_pending",
]
