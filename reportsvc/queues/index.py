"""Dramatiq message id -> current Redis entry id, from the index the broker keeps on every enqueue."""

from __future__ import annotations

import redis

#: Key prefix of the index: the broker sets `<prefix><message_id>` = `<queue>|<redis id>` on every enqueue.
MESSAGE_INDEX_PREFIX = "reportsvc:msgindex:"
#: How long an entry lives: the broker's own TTL (worker/broker.py MESSAGE_INDEX_TTL_MS, 8 days, past
#: Dramatiq's 7-day dead-letter TTL); a lane move that rewrites an entry gives it the same.
MESSAGE_INDEX_TTL_MS = 8 * 86_400_000


def resolve(client: redis.Redis, message_id: str) -> tuple[str, str] | None:
    """(queue name as enqueued, Redis id) of the message's latest enqueue, or None if never indexed."""
    raw = client.get(MESSAGE_INDEX_PREFIX + message_id)
    if raw is None:
        return None
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    queue, _, redis_id = text.partition("|")
    return (queue, redis_id) if redis_id else None
