"""Cheap "is this message still live, and where" checks for the sweeper and reconciler (no positions)."""

from __future__ import annotations

import redis

from .index import resolve
from .keys import DEFAULT_NAMESPACE, QueueKeys, canonical_queue
from .listing import Location, _lookup
from .messages import REPORT_ACTORS


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
        return None, Location(state="nowhere")
    queue, redis_id = indexed
    keys = QueueKeys.of(canonical_queue(queue), namespace)
    return keys.queue, _lookup(client, keys, redis_id, REPORT_ACTORS, False, None, dead_after_ms)
