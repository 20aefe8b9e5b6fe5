"""One page of a queue's messages in one state (waiting, delayed, held, dead); every call O(page).

``total`` is the state's count at read time (LLEN/HLEN/ZCARD), not the page's. Cursors and the
``Page`` type are in ``paging``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

import redis

from reportsvc.queues._dead import decode_dead_cursor, encode_dead_cursor, read_dead_rows
from reportsvc.queues.keys import DEFAULT_NAMESPACE, QueueKeys
from reportsvc.queues.messages import (
    DELAYED,
    HELD,
    NO_REPORT_ACTORS,
    STATES,
    WAITING,
    MessageView,
    decode_message,
    to_bytes,
    to_str,
)
from reportsvc.queues.paging import (
    Page,
    decode_delayed_cursor,
    decode_held_cursor,
    decode_waiting_cursor,
    encode_delayed_cursor,
    encode_held_cursor,
    encode_waiting_cursor,
)
from reportsvc.queues.workers import worker_beats

#: How far a waiting-list anchor may have drifted (ids popped by workers) before a page falls back
#: to an O(n) LPOS; between two operator clicks this is rarely exceeded.
ANCHOR_WINDOW = 512


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


def _find_anchor(
    client: redis.Redis, keys: QueueKeys, window: list[Any], base: int, anchor: str, index: int
) -> int | None:
    target = to_bytes(anchor)
    for i, value in enumerate(window):
        if to_bytes(value) == target:
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
        index, anchor = decode_waiting_cursor(cursor)
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
        next_cursor = encode_waiting_cursor(start, to_str(ids[0])) if more else None
    else:
        last = start + len(ids) - 1
        more = len(ids) == limit and last < total - 1
        next_cursor = encode_waiting_cursor(last, to_str(ids[-1])) if more else None
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
    return _decode(zip(ids, bodies, strict=True), state, queue, report_actors, held_by or {})


def _decode(
    pairs: Iterable[tuple[Any, Any]],
    state: str,
    queue: str,
    report_actors: Collection[str],
    held_by: dict[str, str],
) -> list[MessageView]:
    views = []
    for raw_id, body in pairs:
        if body is None:
            # Acked (or moved) between the id read and the body read: not in this state any more.
            continue
        rid = to_str(raw_id)
        views.append(
            decode_message(
                body, redis_id=rid, state=state, queue=queue, held_by=held_by.get(rid), report_actors=report_actors
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
    scan_cursor = 0 if cursor is None else decode_delayed_cursor(cursor)
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
    views = _decode(entries.items(), DELAYED, keys.queue, report_actors, held_by)
    far = datetime.max.replace(tzinfo=None)
    views.sort(key=lambda v: (v.eta.replace(tzinfo=None) if v.eta else far, v.redis_id), reverse=newest_first)
    next_cursor = None if int(next_scan) == 0 else encode_delayed_cursor(int(next_scan))
    return Page(items=views, next_cursor=next_cursor, total=int(total))


# -- held ------------------------------------------------------------------------------------
# Held = fetched into some worker's ack set for this queue and not yet acked. Ack sets are
# bounded by each worker's prefetch, so walking them (workers in id order, SSCAN within one)
# stays small. The cursor names the worker and the SSCAN cursor inside its set.


def _held_page(
    client: redis.Redis, keys: QueueKeys, limit: int, cursor: str | None, report_actors: Collection[str]
) -> Page:
    workers = sorted(worker_beats(client, keys))
    pipe = client.pipeline(transaction=False)
    pipe.llen(keys.waiting)
    pipe.hlen(keys.msgs)
    for w, _ in workers:
        pipe.scard(keys.acks(w))
    waiting, msgs, *sizes = pipe.execute()
    total = max(0, int(msgs) - int(waiting))
    start_worker, scan_cursor = "", 0
    if cursor:
        start_worker, scan_cursor = decode_held_cursor(cursor)
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
                next_cursor = encode_held_cursor(w, sc)
            else:
                later = candidates[candidates.index(w) + 1 :]
                next_cursor = encode_held_cursor(later[0], 0) if later else None
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
    views = page.views(keys.queue, report_actors)
    next_cursor = None
    if page.rows and not page.at_end:
        rid, score, _ = page.rows[-1]
        next_cursor = encode_dead_cursor(score, rid)
    return Page(items=views, next_cursor=next_cursor, total=total)
