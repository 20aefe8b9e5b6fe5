"""Keyset reads over a dead-letter ZSET, shared by the dead-letter list and the bulk actions."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import redis

from reportsvc import cursors
from reportsvc.queues.keys import QueueKeys
from reportsvc.queues.messages import DEAD, MessageView, decode_message, to_str
from reportsvc.queues.paging import REDIS_ID

#: Dead-letter scores are epoch milliseconds; anything past this is not one.
MAX_SCORE = 1e15
#: Lua's unpack() is bounded by its C stack (8000); stay well under it.
MAX_PAGE = 2000

# ZRANK/ZREVRANK of the cursor id makes a deep page O(log n + page) even when thousands of
# letters share one millisecond score. Members are never compared in Lua (its string order is
# strcoll, not the ZSET's memcmp order); a vanished cursor id returns nil and Python falls back.
_READ_LUA = """
local dead, msgs = KEYS[1], KEYS[2]
local cid, desc, n = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3])
local lo, hi = ARGV[4], ARGV[5]
local start = 0
if cid ~= '' then
  local r
  if desc then r = redis.call('zrevrank', dead, cid) else r = redis.call('zrank', dead, cid) end
  if not r then return false end
  start = r + 1
end
if not desc and lo ~= '-inf' then
  local s = redis.call('zcount', dead, '-inf', '(' .. lo)
  if s > start then start = s end
end
local rows
if desc then
  rows = redis.call('zrevrange', dead, start, start + n - 1, 'WITHSCORES')
else
  rows = redis.call('zrange', dead, start, start + n - 1, 'WITHSCORES')
end
local ids, scores = {}, {}
local at_end = (#rows / 2) < n
local hiv = nil
if hi ~= '+inf' then hiv = tonumber(hi) end
for i = 1, #rows, 2 do
  local sc = tonumber(rows[i + 1])
  if hiv and sc >= hiv then
    at_end = true
    break
  end
  table.insert(ids, rows[i])
  table.insert(scores, rows[i + 1])
end
local bodies = {}
if #ids > 0 then bodies = redis.call('hmget', msgs, unpack(ids)) end
local flag = 0
if at_end then flag = 1 end
return {ids, scores, bodies, flag}
"""


@dataclass(frozen=True)
class DeadRows:
    """A keyset page of dead letters: (id, score ms, body or None) in ZSET order."""

    rows: list[tuple[str, float, Any]]
    at_end: bool

    def views(self, queue: str, report_actors: Collection[str]) -> list[MessageView]:
        """The page's letters decoded, skipping any whose body was gone when the page was read."""
        return [
            decode_message(body, redis_id=rid, state=DEAD, queue=queue, dead_at_ms=score, report_actors=report_actors)
            for rid, score, body in self.rows
            if body is not None
        ]


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def encode_dead_cursor(score: float, redis_id: str) -> str:
    """Opaque cursor naming one (score, id) position of the dead-letter ZSET."""
    return f"x:{score!r}:{redis_id}"


def decode_dead_cursor(cursor: str) -> tuple[float, str]:
    """Inverse of :func:`encode_dead_cursor`; CursorError if it is not one."""
    score, last_id = cursors.split(cursor, "x", 2)
    return cursors.real(score, 0.0, MAX_SCORE), cursors.token(last_id, REDIS_ID)


def _fmt(bound: float | None, default: str) -> str:
    return default if bound is None else repr(float(bound))


def read_dead_rows(
    client: redis.Redis,
    keys: QueueKeys,
    n: int,
    cursor: tuple[float, str] | None,
    *,
    desc: bool,
    lo: float | None = None,
    hi: float | None = None,
) -> DeadRows:
    """Up to ``n`` letters after ``cursor`` (score >= lo and < hi, ascending only), bodies included."""
    n = max(1, min(n, MAX_PAGE))
    cid = cursor[1] if cursor else ""
    reply = client.register_script(_READ_LUA)(
        keys=[keys.dead, keys.dead_msgs],
        args=[cid, "1" if desc else "0", n, _fmt(lo, "-inf"), _fmt(hi, "+inf")],
    )
    if reply is not None:
        ids, scores, bodies, flag = reply
        rows = [(to_str(i), float(s), b) for i, s, b in zip(ids, scores, bodies, strict=True)]
        return DeadRows(rows=rows, at_end=bool(int(flag)))
    assert cursor is not None
    return _read_after_missing_cursor(client, keys, n, cursor, desc=desc, lo=lo, hi=hi)


def _read_after_missing_cursor(
    client: redis.Redis,
    keys: QueueKeys,
    n: int,
    cursor: tuple[float, str],
    *,
    desc: bool,
    lo: float | None,
    hi: float | None,
) -> DeadRows:
    # The cursor's own letter is gone (requeued or deleted meanwhile): page by score from the
    # cursor's score and skip same-score letters at or before its id, in ZSET (memcmp) order.
    score, last = cursor[0], _b(cursor[1])
    rows: list[tuple[str, float]] = []
    raw: Any
    offset, at_end = 0, False
    start_score = score if lo is None or desc else max(score, lo)
    while len(rows) < n:
        chunk = n + 16
        if desc:
            raw = client.zrevrangebyscore(keys.dead, start_score, "-inf", start=offset, num=chunk, withscores=True)
        else:
            top = "+inf" if hi is None else f"({float(hi)!r}"
            raw = client.zrangebyscore(keys.dead, start_score, top, start=offset, num=chunk, withscores=True)
        for m, s in raw:
            if float(s) == score and (_b(m) >= last if desc else _b(m) <= last):
                continue
            rows.append((to_str(m), float(s)))
            if len(rows) == n:
                break
        if len(raw) < chunk:
            at_end = len(rows) < n
            break
        offset += chunk
    bodies = client.hmget(keys.dead_msgs, [r[0] for r in rows]) if rows else []
    return DeadRows(rows=[(i, s, b) for (i, s), b in zip(rows, bodies, strict=True)], at_end=at_end)
