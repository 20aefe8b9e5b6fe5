"""Operator actions on Dramatiq 2.2's Redis keys: each mutation is one Lua script that first checks
the entry is still where the caller saw it, so a repeated or concurrent call is a no-op (0/False),
never a duplicate.

Guarantees, per action:

* ``requeue_dead`` / ``requeue_dead_batch``: an id moves from ``q.XQ`` to the tail of ``q`` at most
  once per dead-lettering, exactly as Dramatiq's enqueue stores it (``HSET q.msgs`` + ``RPUSH q``),
  keeping its Redis id and Dramatiq ``message_id``; the body gets ``retries`` 0 and loses
  ``eta``/``traceback``/``requeue_timestamp``. The rewrite happens in Python (Redis' cjson would
  turn ``[]`` into ``{}`` and round big integers) and the script compares the letter's ZSET score
  with the one read, so a letter that was requeued, died again and got a new score is not
  touched with a stale body.
* ``delete_dead`` / ``delete_dead_batch``: ZREM + HDEL of letters still present.
* ``promote_delayed``: see its docstring; it never creates a second copy unless ``force=True``.
* ``release_held`` / ``release_dead_worker``: Dramatiq's own dead-worker maintenance, for one id or
  one worker, refusing a worker whose heartbeat is fresh unless ``force=True``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from ._dead import decode_dead_cursor, encode_dead_cursor, read_dead_rows
from .keys import DEFAULT_NAMESPACE, DQ_SUFFIX, QueueKeys, ack_key, canonical_queue
from .listing import find_by_message_id
from .messages import (
    DEAD,
    REPORT_ACTORS,
    MessageView,
    decode_message,
    rewrite_for_promote,
    rewrite_for_requeue,
    to_ms,
    to_str,
)
from .workers import DEFAULT_HEARTBEAT_TIMEOUT_MS

DEFAULT_BATCH = 500

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
    report_actors: Collection[str] = REPORT_ACTORS

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


def _now(now_ms: float | None) -> float:
    return time.time() * 1000.0 if now_ms is None else now_ms


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _requeue_rows(client: redis.Redis, keys: QueueKeys, rows: list[tuple[str, float, Any]]) -> list[str]:
    args: list[Any] = []
    for rid, score, body in rows:
        if body is None:
            continue
        args += [rid, repr(score), rewrite_for_requeue(body, keys.queue)]
    if not args:
        return []
    script = client.register_script(_REQUEUE_LUA)
    return [to_str(x) for x in script(keys=[keys.dead, keys.dead_msgs, keys.msgs, keys.waiting], args=args)]


def read_dead(
    client: redis.Redis,
    queue: str,
    redis_ids: Iterable[str],
    *,
    namespace: str = DEFAULT_NAMESPACE,
    report_actors: Collection[str] = REPORT_ACTORS,
) -> list[MessageView]:
    """The given ids that are dead letters now (ZMSCORE + HMGET, one round trip); absent ids are left out."""
    keys = QueueKeys.of(queue, namespace)
    ids = list(dict.fromkeys(redis_ids))
    if not ids:
        return []
    pipe = client.pipeline(transaction=True)
    pipe.zmscore(keys.dead, ids)
    pipe.hmget(keys.dead_msgs, ids)
    scores, bodies = pipe.execute()
    return [
        decode_message(b, redis_id=rid, state=DEAD, queue=keys.queue, dead_at_ms=float(s), report_actors=report_actors)
        for rid, s, b in zip(ids, scores, bodies, strict=True)
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
) -> list[str]:
    """Move the given dead letters back to the tail of the waiting list; returns the ids that moved.

    ``expected_dead_ms`` (id -> score the caller saw) makes the script refuse a letter that died
    again since (a different dead-lettering than the one the operator looked at).
    """
    keys = QueueKeys.of(queue, namespace)
    ids = list(dict.fromkeys(redis_ids))
    moved: list[str] = []
    for chunk in _chunks(ids, batch_size):
        pipe = client.pipeline(transaction=False)
        pipe.zmscore(keys.dead, chunk)
        pipe.hmget(keys.dead_msgs, chunk)
        scores, bodies = pipe.execute()
        rows = []
        for rid, s, b in zip(chunk, scores, bodies, strict=True):
            if s is None:
                continue
            seen = (expected_dead_ms or {}).get(rid)
            rows.append((rid, float(s) if seen is None else seen, b))
        moved += _requeue_rows(client, keys, rows)
    return moved


def requeue_dead(
    client: redis.Redis,
    queue: str,
    redis_ids: Iterable[str],
    *,
    namespace: str = DEFAULT_NAMESPACE,
    batch_size: int = DEFAULT_BATCH,
) -> int:
    """Move the given dead letters back to the tail of the waiting list; returns how many moved."""
    return len(requeue_dead_ids(client, queue, redis_ids, namespace=namespace, batch_size=batch_size))


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
    script = client.register_script(_DELETE_LUA)
    removed: list[str] = []
    for chunk in _chunks(list(dict.fromkeys(redis_ids)), batch_size):
        args: list[str] = []
        for rid in chunk:
            seen = (expected_dead_ms or {}).get(rid)
            args += [rid, "" if seen is None else repr(float(seen))]
        removed += [to_str(x) for x in script(keys=[keys.dead, keys.dead_msgs], args=args)]
    return removed


def delete_dead(
    client: redis.Redis,
    queue: str,
    redis_ids: Iterable[str],
    *,
    namespace: str = DEFAULT_NAMESPACE,
    batch_size: int = DEFAULT_BATCH,
) -> int:
    """Delete the given dead letters; returns how many were still there."""
    return len(delete_dead_ids(client, queue, redis_ids, namespace=namespace, batch_size=batch_size))


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
    views = [
        decode_message(
            body, redis_id=rid, state=DEAD, queue=keys.queue, dead_at_ms=score, report_actors=flt.report_actors
        )
        for rid, score, body in page.rows
        if body is not None
    ]
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
) -> BatchResult:
    """Requeue the matching letters among the next ``batch_size`` (oldest first); one script call."""
    return _batch(
        client, queue, namespace, batch_size, filter, cursor, lambda keys, rows: _requeue_rows(client, keys, rows)
    )


def _delete_rows(client: redis.Redis, keys: QueueKeys, rows: list[tuple[str, float, Any]]) -> list[str]:
    args: list[str] = []
    for rid, score, _ in rows:
        args += [rid, repr(score)]
    return [to_str(x) for x in client.register_script(_DELETE_LUA)(keys=[keys.dead, keys.dead_msgs], args=args)]


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
        client, queue, namespace, batch_size, filter, cursor, lambda keys, rows: _delete_rows(client, keys, rows)
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
    keys = QueueKeys.of(queue, namespace)
    flt = filter or DeadFilter()
    if flt.score_only:
        lo = "-inf" if flt.lo is None else repr(flt.lo)
        hi = "+inf" if flt.hi is None else f"({flt.hi!r}"
        return int(client.zcount(keys.dead, lo, hi))
    total = 0
    start: tuple[float, str] | None = None
    while True:
        page = read_dead_rows(client, keys, batch_size, start, desc=False, lo=flt.lo, hi=flt.hi)
        views = [
            decode_message(
                body, redis_id=rid, state=DEAD, queue=keys.queue, dead_at_ms=score, report_actors=flt.report_actors
            )
            for rid, score, body in page.rows
            if body is not None
        ]
        total += len(flt.select(views))
        if page.at_end or not page.rows:
            return total
        start = (page.rows[-1][1], page.rows[-1][0])


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
    "BatchResult",
    "DeadFilter",
    "WorkerAliveError",
    "count_dead_matching",
    "delete_dead",
    "delete_dead_batch",
    "delete_dead_ids",
    "promote_delayed",
    "read_dead",
    "remove_pending",
    "release_dead_worker",
    "release_held",
    "requeue_dead",
    "requeue_dead_batch",
    "requeue_dead_ids",
    "run_batches",
    "scan_count_dead",
]


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
        return count_dead_matching(client, queue, flt, namespace=namespace), 0, True
    deadline = None if time_budget_s is None else time.monotonic() + time_budget_s
    total = scanned = 0
    start: tuple[float, str] | None = None
    while True:
        page = read_dead_rows(client, keys, batch_size, start, desc=False, lo=flt.lo, hi=flt.hi)
        views = [
            decode_message(
                body, redis_id=rid, state=DEAD, queue=keys.queue, dead_at_ms=score, report_actors=flt.report_actors
            )
            for rid, score, body in page.rows
            if body is not None
        ]
        total += len(flt.select(views))
        scanned += len(page.rows)
        if page.at_end or not page.rows:
            return total, scanned, True
        if deadline is not None and time.monotonic() > deadline:
            return total, scanned, False
        start = (page.rows[-1][1], page.rows[-1][0])
