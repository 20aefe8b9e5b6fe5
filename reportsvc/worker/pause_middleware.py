"""Hold the messages of a paused queue: put each back, delayed, before anything runs it.

Dramatiq has no per-queue pause, and its Redis consumer fetches from every queue it was given. So this
middleware acts first in `before_process_message`: when the message's queue is paused it re-enqueues the
same message (same message_id and options: no retry counted) with a delay of `RECHECK_MS`, then raises
`SkipMessage`, which makes the worker acknowledge the original without running the actor. No claim, no
attempt, no timeline entry: the report stays PENDING. While paused a message cycles waiting -> delayed ->
waiting every RECHECK_MS; after a resume, the next time it comes round it runs.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from dramatiq.common import q_name
from dramatiq.middleware import Middleware, SkipMessage

from reportsvc.ops import pauses
from reportsvc.worker import context

log = logging.getLogger("reportsvc.worker.pause")

#: How long a held message waits before it is looked at again (bounds how soon work starts after a resume).
RECHECK_MS = 1000

_held = threading.local()


class _QuietHeld(logging.Filter):
    """Drops Dramatiq's per-skip warning for messages held here (one per message per second otherwise)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_held, "message_id", None) and record.msg == "Message %s was skipped.":
            _held.message_id = None
            return False
        return True


class PauseMiddleware(Middleware):
    """See the module docstring."""

    def __init__(self) -> None:
        logging.getLogger("dramatiq.worker.WorkerThread").addFilter(_QuietHeld())

    def before_process_message(self, broker: Any, message: Any) -> None:
        """Re-enqueue (delayed) and skip a message whose queue is paused."""
        queue = q_name(message.queue_name)
        paused = pauses.cached()  # fresh for CACHE_SECONDS: most messages need no app context to know
        if paused is None:
            try:
                with context.get_app().app_context():  # a lost mirror is rebuilt from PostgreSQL
                    paused = pauses.paused(broker.client)
            except Exception as exc:  # Redis/PostgreSQL trouble: run the message rather than lose or stall it
                log.warning("could not read queue pauses (%s); processing message %s", exc, message.message_id)
                return
        if queue not in paused:
            return
        broker.enqueue(message.copy(queue_name=queue), delay=RECHECK_MS)
        _held.message_id = message.message_id
        log.debug("queue %s paused: message %s held for %d ms", queue, message.message_id, RECHECK_MS)
        raise SkipMessage(f"queue {queue} paused")
