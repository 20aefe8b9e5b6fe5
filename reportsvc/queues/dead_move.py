"""Move dead letters to another queue's waiting list (a priority-lane change), one guarded script per chunk.

A dead letter of ``q`` goes to the tail of ``t`` exactly as Dramatiq 2.2 enqueues there (``HSET t.msgs`` +
``RPUSH t``) with the body rewritten in Python (``queue_name`` = ``t``, retries reset, eta/traceback dropped:
:func:`~reportsvc.queues.messages.requeued_body`). In the same script the broker's message index entry
``reportsvc:msgindex:<message_id>`` is repointed to ``t|<redis id>``, so the sweeper, the reconciler and the
console find the message on its new queue in O(1).

The guard, per letter: it must still be in ``q.XQ`` at the score the caller read (a letter requeued by
someone else meanwhile, or requeued and dead again, is left alone), and its Redis id must not be live in
the target queue already. (It cannot be live in its own queue while dead: Dramatiq's nack and every script
here move an id between the two atomically.) The index entry is rewritten only if it still names this
letter (or is gone): an index that already points at a newer enqueue of the same message (a manual retry)
is not clobbered.
"""

from __future__ import annotations

from typing import Any

import redis

from reportsvc.queues.index import MESSAGE_INDEX_PREFIX, MESSAGE_INDEX_TTL_MS
from reportsvc.queues.keys import QueueKeys
from reportsvc.queues.messages import requeued_body, to_str

# KEYS: dead, dead msgs, target msgs, target list, then one index key per letter flagged '1'.
# ARGV: source queue, target queue, index ttl ms, then (id, score seen, body, '1'|'0' has an index key) per letter.
_MOVE_LUA = """
local dead, dead_msgs, dst_msgs, dst_list = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local src_q, dst_q, ttl = ARGV[1], ARGV[2], ARGV[3]
local moved = {}
local k = 4
for i = 4, #ARGV, 4 do
  local id, expected, body, indexed = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3] == '1'
  local index = nil
  if indexed then
    k = k + 1
    index = KEYS[k]
  end
  local score = redis.call('zscore', dead, id)
  if score and tonumber(score) == tonumber(expected) and redis.call('hexists', dst_msgs, id) == 0 then
    redis.call('zrem', dead, id)
    redis.call('hdel', dead_msgs, id)
    redis.call('hset', dst_msgs, id, body)
    redis.call('rpush', dst_list, id)
    if index then
      local seen = redis.call('get', index)
      if (not seen) or seen == src_q .. '|' .. id or seen == src_q .. '.DQ|' .. id then
        redis.call('set', index, dst_q .. '|' .. id, 'PX', ttl)
      end
    end
    table.insert(moved, id)
  end
end
return moved
"""


def move_rows(client: redis.Redis, keys: QueueKeys, target: QueueKeys, rows: list[tuple[str, float, Any]]) -> list[str]:
    """Move ``(id, score seen, body)`` dead letters of ``keys`` to ``target``'s waiting list; the ids that moved."""
    args: list[Any] = [keys.queue, target.queue, MESSAGE_INDEX_TTL_MS]
    index_keys: list[str] = []
    for rid, score, body in rows:
        if body is None:
            continue
        rewritten, message_id = requeued_body(body, target.queue)
        args += [rid, repr(score), rewritten, "1" if message_id else "0"]
        if message_id:
            index_keys.append(MESSAGE_INDEX_PREFIX + message_id)
    if len(args) == 3:
        return []
    script = client.register_script(_MOVE_LUA)
    fixed = [keys.dead, keys.dead_msgs, target.msgs, target.waiting]
    return [to_str(x) for x in script(keys=fixed + index_keys, args=args)]
