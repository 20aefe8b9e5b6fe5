"""Read-only introspection and operator actions over Dramatiq's Redis broker keys.

Pinned to Dramatiq 2.2 (``dramatiq/brokers/redis.py`` + ``redis/dispatch.lua``): the key
layout, which end of the list runs next (``RPUSH`` to enqueue, ``LPOP`` to fetch), the ack
sets per ``(worker, queue)`` and the dead-worker maintenance are copied from that version.
This package is the only code in reportsvc that reads those keys. It imports neither Flask
nor SQLAlchemy and knows messages, not reports; code that ties a message to its report sits
above it. Every read is O(page); every mutation is one Lua script that first checks the
entry is still where the caller saw it.

A note on ids: Dramatiq keys every Redis entry by ``options["redis_message_id"]`` (a fresh
uuid per enqueue, so a retried message gets a new one), not by the ``message_id`` that a
report row stores. Functions here take that Redis entry id (``redis_id``);
``MessageView.message_id`` is Dramatiq's own id.
"""

from __future__ import annotations

import warnings

import dramatiq

from reportsvc.queues.bulk import (
    BatchResult,
    DeadFilter,
    count_dead_matching,
    delete_dead_batch,
    requeue_dead_batch,
    run_batches,
    scan_count_dead,
)
from reportsvc.queues.dead_actions import delete_dead_ids, read_dead, requeue_dead_ids
from reportsvc.queues.keys import DEFAULT_NAMESPACE, QueueKeys, canonical_queue, dead_queue_name, delay_queue_name
from reportsvc.queues.listing import list_messages
from reportsvc.queues.live_actions import (
    WorkerAliveError,
    promote_delayed,
    release_dead_worker,
    release_held,
    remove_pending,
)
from reportsvc.queues.locate import Location, get_message, locate_message
from reportsvc.queues.messages import NO_REPORT_ACTORS, MessageView, decode_message
from reportsvc.queues.paging import Page
from reportsvc.queues.scan import find_by_message_id, iter_live_messages
from reportsvc.queues.stats import (
    DISCOVERED_KEY,
    QueueStats,
    all_queue_stats,
    discover_queues,
    known_queues,
    queue_stats,
    refresh_discovered_queues,
)
from reportsvc.queues.workers import DEFAULT_HEARTBEAT_TIMEOUT_MS, WorkerInfo, is_worker_alive, list_workers

#: The Dramatiq release line whose Redis layout this package reproduces.
SUPPORTED_DRAMATIQ = (2, 2)


def _check_dramatiq_version(version: str) -> bool:
    """Warn (once, at import) when the installed Dramatiq is not the release line this code reads."""
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts != SUPPORTED_DRAMATIQ:
        warnings.warn(
            f"reportsvc.queues reads Dramatiq {SUPPORTED_DRAMATIQ[0]}.{SUPPORTED_DRAMATIQ[1]}'s Redis key layout "
            f"but Dramatiq {version} is installed; re-check dramatiq/brokers/redis/dispatch.lua "
            "before trusting queue counts or operator actions.",
            RuntimeWarning,
            stacklevel=2,
        )
        return False
    return True


DRAMATIQ_VERSION_OK = _check_dramatiq_version(dramatiq.__version__)

__all__ = [
    "BatchResult",
    "DEFAULT_HEARTBEAT_TIMEOUT_MS",
    "DEFAULT_NAMESPACE",
    "DISCOVERED_KEY",
    "DRAMATIQ_VERSION_OK",
    "DeadFilter",
    "Location",
    "MessageView",
    "Page",
    "QueueKeys",
    "QueueStats",
    "NO_REPORT_ACTORS",
    "SUPPORTED_DRAMATIQ",
    "WorkerAliveError",
    "WorkerInfo",
    "all_queue_stats",
    "canonical_queue",
    "count_dead_matching",
    "dead_queue_name",
    "decode_message",
    "delay_queue_name",
    "delete_dead_batch",
    "delete_dead_ids",
    "discover_queues",
    "find_by_message_id",
    "get_message",
    "is_worker_alive",
    "iter_live_messages",
    "known_queues",
    "list_messages",
    "list_workers",
    "locate_message",
    "promote_delayed",
    "read_dead",
    "queue_stats",
    "refresh_discovered_queues",
    "release_dead_worker",
    "release_held",
    "remove_pending",
    "requeue_dead_batch",
    "requeue_dead_ids",
    "run_batches",
    "scan_count_dead",
]
