"""Paged message lists per state, single-message lookup and location; every call O(page).

Cursors are opaque strings; pass back ``Page.next_cursor`` unchanged with the same state and
order. ``total`` is the state's count at read time (LLEN/HLEN/ZCARD), not the page's.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from reportsvc.queues._dead import decode_dead_cursor, encode_dead_cursor, read_dead_rows
from reportsvc.queues.index import resolve
from reportsvc.queues.keys import DEFAULT_NAMESPACE, QueueKeys
from reportsvc.queues.messages import (
    DEAD,
    DELAYED,
    HELD,
    NO_REPORT_ACTORS,
    STATES,
    WAITING,
    MessageView,
    decode_message,
    to_str,
)
from reportsvc.queues.workers import DEFAULT_HEARTBEAT_TIMEOUT_MS, is_worker_alive

#: How far a waiting-list anchor may have drifted (ids popped by workers) before a page falls back
#: to an O(n) LPOS; between two operator clicks this is rarely exceeded.
ANCHOR_WINDOW = 512
NOWHERE = "nowhere"


@dataclass(frozen=True)
class Page:
    """One page of messages in one state."""

    items: list[MessageView]
    next_cursor: str | None
    total: int

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (datetimes stay datetimes)."""
        return dataclasses.asdict(self)


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


POSITION_SCAN_LIMIT = 10_000


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _workers(client: redis.Redis, keys: QueueKeys) -> list[tuple[str, float]]:
    # The heartbeat set has one entry per broker process seen in the last minute or so (and
    # until maintenance prunes dead ones), so reading it whole is bounded by the fleet size.
    entries: Any = client.zrange(keys.heartbeats, 0, -1, withscores=True)
    return [(to_str(m), float(s)) for m, s in entries]


def list_messages(
    client: redis.Redis,
    queue: str,
    state: str,
    limit: int = 50,
    cursor: str | None = None,
    newest_first: bool = True,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    report_actors: Collection[str] = NO_REPORT_ACTORS,
) -> Page:
    """One page of ``queue``'s messages in ``state`` (waiting, delayed, held or dead)."""
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}; expected one of {STATES}")
    if limit < 1:
        raise ValueError("limit must be >= 1")
    keys = QueueKeys.of(queue, namespace)
    if state == WAITING:
        return _waiting_page(client, keys, limit, cursor, newest_first, report_actors)
    if state == DELAYED:
        return _delayed_page(client, keys, limit, cursor, newest_first, report_actors)
    if state == HELD:
        return _held_page(client, keys, limit, cursor, report_actors)
    return _dead_page(client, keys, limit, cursor, newest_first, report_actors)


# -- waiting ---------------------------------------------------------------------------------
# Dramatiq RPUSHes on enqueue and LPOPs on fetch, so head index 0 is the next to run and new
# ids arrive at the tail. Pops shift every head index down between two page requests, so a
# bare offset would skip ids; the cursor also carries the last id shown (the anchor) and the
# next page re-finds it in a small window around its old index.


def _encode_waiting_cursor(index: int, anchor: str) -> str:
    return f"w:{index}:{anchor}"


def _decode_waiting_cursor(cursor: str) -> tuple[int, str]:
    tag, index, anchor = cursor.split(":", 2)
    if tag != "w":
        raise ValueError("not a waiting-list cursor")
    return int(index), anchor


def _find_anchor(
    client: redis.Redis, keys: QueueKeys, window: list[Any], base: int, anchor: str, index: int
) -> int | None:
    target = _b(anchor)
    for i, value in enumerate(window):
        if _b(value) == target:
            return base + i
    # Drifted further than the window or gone: a bounded LPOS (O(index), rare) tells which.
    pos = client.lpos(keys.waiting, anchor, maxlen=index + 1)
    return None if pos is None else int(pos)  # type: ignore[arg-type]


def _waiting_page(
    client: redis.Redis,
    keys: QueueKeys,
    limit: int,
    cursor: str | None,
    newest_first: bool,
    report_actors: Collection[str],
) -> Page:
    pipe = client.pipeline(transaction=True)
    pipe.llen(keys.waiting)
    if cursor is None:
        if newest_first:
            pipe.lrange(keys.waiting, -limit, -1)
        else:
            pipe.lrange(keys.waiting, 0, limit - 1)
        total, ids = pipe.execute()
        total = int(total)
        start = max(0, total - len(ids)) if newest_first else 0
    else:
        index, anchor = _decode_waiting_cursor(cursor)
        base = max(0, index - ANCHOR_WINDOW - (limit if newest_first else 0))
        pipe.lrange(keys.waiting, base, index + (0 if newest_first else limit))
        total, window = pipe.execute()
        total = int(total)
        pos = _find_anchor(client, keys, window, base, anchor, index)
        if newest_first:
            if pos is None:
                # The anchor was popped, so was everything older than it: nothing left to show.
                return Page(items=[], next_cursor=None, total=total)
            start = max(0, pos - limit)
            if base <= start and pos <= base + len(window):
                ids = window[start - base : pos - base]
            else:
                ids = client.lrange(keys.waiting, start, pos - 1)
        else:
            start = 0 if pos is None else pos + 1
            if pos is not None and base <= start and start + limit <= base + len(window):
                ids = window[start - base : start - base + limit]
            else:
                ids = client.lrange(keys.waiting, start, start + limit - 1)
    ids = list(ids)
    views = _bodies(client, keys.msgs, ids, WAITING, keys.queue, report_actors)
    if newest_first:
        views.reverse()
        more = start > 0 and bool(ids)
        next_cursor = _encode_waiting_cursor(start, to_str(ids[0])) if more else None
    else:
        last = start + len(ids) - 1
        more = len(ids) == limit and last < total - 1
        next_cursor = _encode_waiting_cursor(last, to_str(ids[-1])) if more else None
    return Page(items=views, next_cursor=next_cursor, total=total)


def _bodies(
    client: redis.Redis,
    hash_key: str,
    ids: list[Any],
    state: str,
    queue: str,
    report_actors: Collection[str],
    held_by: dict[str, str] | None = None,
) -> list[MessageView]:
    if not ids:
        return []
    bodies = client.hmget(hash_key, ids)
    views = []
    for raw_id, body in zip(ids, bodies, strict=True):
        if body is None:
            # Acked (or moved) between the id read and the body read: not in this state any more.
            continue
        rid = to_str(raw_id)
        views.append(
            decode_message(
                body,
                redis_id=rid,
                state=state,
                queue=queue,
                held_by=(held_by or {}).get(rid),
                report_actors=report_actors,
            )
        )
    return views


# -- delayed ---------------------------------------------------------------------------------
# Delayed bodies live in q.DQ.msgs whatever holds them (the DQ list, or a worker's memory and
# its q.DQ ack set); there is no ordered index by eta, so pages follow HSCAN and each page is
# sorted by eta. HSCAN may return a few more or fewer than ``limit`` and, if the hash is
# rehashed meanwhile, repeat an id; it never misses one present for the whole walk.


def _delayed_page(
    client: redis.Redis,
    keys: QueueKeys,
    limit: int,
    cursor: str | None,
    newest_first: bool,
    report_actors: Collection[str],
) -> Page:
    scan_cursor = 0 if cursor is None else int(cursor.removeprefix("h:"))
    pipe = client.pipeline(transaction=False)
    pipe.hlen(keys.delayed_msgs)
    pipe.hscan(keys.delayed_msgs, scan_cursor, count=limit)
    pipe.zrange(keys.heartbeats, 0, -1)
    total, (next_scan, entries), workers = pipe.execute()
    ids = [to_str(k) for k in entries]
    held_by: dict[str, str] = {}
    if ids and workers:
        pipe = client.pipeline(transaction=False)
        worker_ids = [to_str(w) for w in workers]
        for w in worker_ids:
            pipe.smismember(keys.delayed_acks(w), ids)
        for w, flags in zip(worker_ids, pipe.execute(), strict=True):
            for rid, flag in zip(ids, flags, strict=True):
                if flag:
                    held_by[rid] = w
    views = [
        decode_message(
            body,
            redis_id=to_str(rid),
            state=DELAYED,
            queue=keys.queue,
            held_by=held_by.get(to_str(rid)),
            report_actors=report_actors,
        )
        for rid, body in entries.items()
    ]
    far = datetime.max.replace(tzinfo=None)
    views.sort(key=lambda v: (v.eta.replace(tzinfo=None) if v.eta else far, v.redis_id), reverse=newest_first)
    next_cursor = None if int(next_scan) == 0 else f"h:{int(next_scan)}"
    return Page(items=views, next_cursor=next_cursor, total=int(total))


# -- held ------------------------------------------------------------------------------------
# Held = fetched into some worker's ack set for this queue and not yet acked. Ack sets are
# bounded by each worker's prefetch, so walking them (workers in id order, SSCAN within one)
# stays small. The cursor names the worker and the SSCAN cursor inside its set.


def _held_page(
    client: redis.Redis, keys: QueueKeys, limit: int, cursor: str | None, report_actors: Collection[str]
) -> Page:
    workers = sorted(_workers(client, keys))
    pipe = client.pipeline(transaction=False)
    pipe.llen(keys.waiting)
    pipe.hlen(keys.msgs)
    for w, _ in workers:
        pipe.scard(keys.acks(w))
    waiting, msgs, *sizes = pipe.execute()
    total = max(0, int(msgs) - int(waiting))
    start_worker, scan_cursor = "", 0
    if cursor:
        start_worker, _, raw = cursor.removeprefix("k:").rpartition("|")
        scan_cursor = int(raw)
    ids: list[str] = []
    held_by: dict[str, str] = {}
    next_cursor = None
    candidates = [w for (w, _), n in zip(workers, sizes, strict=True) if int(n) and w >= start_worker]
    for w in candidates:
        sc = scan_cursor if w == start_worker else 0
        while True:
            sc, members = client.sscan(keys.acks(w), sc, count=limit)
            for m in members:
                ids.append(to_str(m))
                held_by[to_str(m)] = w
            sc = int(sc)
            if sc == 0 or len(ids) >= limit:
                break
        if len(ids) >= limit:
            if sc != 0:
                next_cursor = f"k:{w}|{sc}"
            else:
                later = candidates[candidates.index(w) + 1 :]
                next_cursor = f"k:{later[0]}|0" if later else None
            break
    views = _bodies(client, keys.msgs, list(ids), HELD, keys.queue, report_actors, held_by)
    return Page(items=views, next_cursor=next_cursor, total=total)


# -- dead ------------------------------------------------------------------------------------
# Keyset on (score, id), the ZSET's own order, so a deep page costs O(log n + page) and stays
# stable while letters are added, requeued or deleted. The cursor is the last (score, id) shown.


def _dead_page(
    client: redis.Redis,
    keys: QueueKeys,
    limit: int,
    cursor: str | None,
    newest_first: bool,
    report_actors: Collection[str],
) -> Page:
    total = int(client.zcard(keys.dead))
    page = read_dead_rows(client, keys, limit, decode_dead_cursor(cursor) if cursor else None, desc=newest_first)
    views = [
        decode_message(body, redis_id=rid, state=DEAD, queue=keys.queue, dead_at_ms=score, report_actors=report_actors)
        for rid, score, body in page.rows
        if body is not None
    ]
    next_cursor = None
    if page.rows and not page.at_end:
        rid, score, _ = page.rows[-1]
        next_cursor = encode_dead_cursor(score, rid)
    return Page(items=views, next_cursor=next_cursor, total=total)


# -- single message --------------------------------------------------------------------------


def _lookup(
    client: redis.Redis,
    keys: QueueKeys,
    redis_id: str,
    report_actors: Collection[str],
    with_position: bool,
    now_ms: float | None,
    dead_after_ms: int,
) -> Location:
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
    loc = _lookup(
        client, QueueKeys.of(queue, namespace), redis_id, report_actors, False, None, DEFAULT_HEARTBEAT_TIMEOUT_MS
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
    return _lookup(client, QueueKeys.of(queue, namespace), redis_id, report_actors, True, now_ms, dead_after_ms)


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
    for w, _ in _workers(client, keys):
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
            if needle in _b(body):
                found.append((hash_key, to_str(rid)))
    return found
