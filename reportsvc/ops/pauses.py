"""Pause and resume a queue: PostgreSQL row first, then the Redis mirror; every use audited.

Workers, the reconciler, the status endpoint and the metrics ask `paused()`: the mirror, cached in this
process for `CACHE_SECONDS` (so a worker pays one small HGETALL a second, not one per message), rebuilt
from PostgreSQL whenever Redis lost it.
"""

from __future__ import annotations

import logging
import threading
import time

import redis

from reportsvc.queues.pauses import Pause, read_mirror, write_mirror
from reportsvc.state import audit, queue_pauses

log = logging.getLogger("reportsvc.ops.pauses")

#: How stale this process's view of the pauses may be (a pause or resume elsewhere shows within this).
CACHE_SECONDS = 1.0

_lock = threading.Lock()
_cache: tuple[float, dict[str, Pause]] | None = None


def _from_database() -> dict[str, Pause]:
    return {q: Pause(q, since.isoformat(), by) for q, (since, by) in queue_pauses.all_pauses().items()}


def sync_mirror(client: redis.Redis) -> dict[str, Pause]:
    """Rewrite the Redis mirror from PostgreSQL; returns what is paused."""
    pauses = _from_database()
    write_mirror(client, pauses)
    _remember(pauses)
    return pauses


def _remember(pauses: dict[str, Pause]) -> None:
    global _cache
    with _lock:
        _cache = (time.monotonic(), pauses)


def forget_cache() -> None:
    """Drop this process's cached view (the next `paused()` reads Redis)."""
    global _cache
    with _lock:
        _cache = None


def cached() -> dict[str, Pause] | None:
    """What `paused()` answers from this process's cache alone (no Redis, no database), or None once stale."""
    with _lock:
        held = _cache
    if held is not None and time.monotonic() - held[0] < CACHE_SECONDS:
        return held[1]
    return None


def paused(client: redis.Redis) -> dict[str, Pause]:
    """Paused queues by name (cached for CACHE_SECONDS; rebuilt from PostgreSQL when the mirror is gone)."""
    held = cached()
    if held is not None:
        return held
    mirror = read_mirror(client)
    if mirror is None:
        log.info("queue pause mirror missing in Redis; rebuilding it from PostgreSQL")
        return sync_mirror(client)
    _remember(mirror)
    return mirror


def pause(client: redis.Redis, queue: str, *, actor: str, via: str) -> bool:
    """Pause `queue` (True) or find it paused already (False: noop); audited either way."""
    changed = queue_pauses.pause(queue, actor)
    sync_mirror(client)
    audit.record(actor, "queue.pause", f"queue:{queue}", "ok" if changed else "noop", {"via": via})
    log.info("queue %s %s by %s", queue, "paused" if changed else "was already paused", actor)
    return changed


def resume(client: redis.Redis, queue: str, *, actor: str, via: str) -> bool:
    """Resume `queue` (True) or find it running already (False: noop); audited either way."""
    changed = queue_pauses.resume(queue)
    sync_mirror(client)
    audit.record(actor, "queue.resume", f"queue:{queue}", "ok" if changed else "noop", {"via": via})
    log.info("queue %s %s by %s", queue, "resumed" if changed else "was not paused", actor)
    return changed


def pause_of_pending(client: redis.Redis, queue: str) -> Pause | None:
    """The pause holding a PENDING report's queue, or None (also when Redis cannot say: a note, not a gate)."""
    try:
        return paused(client).get(queue)
    except Exception as exc:
        log.debug("queue pauses unavailable for a status note: %s", exc)
        return None


def note_for(pause: Pause) -> str:
    """The "queue paused" note a waiting report's status carries."""
    return f"queue paused: {pause.queue} (since {pause.since[:19].replace('T', ' ')} by {pause.by or 'unknown'})"
