"""Where a report's message is right now: waiting at position N, delayed until T, held by worker W,
dead since T, or nowhere.

Sits above `queues` (which knows messages, not reports) and below `web`. A report row stores Dramatiq's
stable `message_id`; the broker's enqueue indexes it (maps it to the queue and the current Redis
entry id), so one GET plus one `locate_message` answers without scanning. No Flask import here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import redis

from reportsvc.names import REPORT_ACTORS
from reportsvc.queues.index import resolve
from reportsvc.queues.keys import canonical_queue
from reportsvc.queues.locate import NOWHERE, POSITION_SCAN_LIMIT, locate_message
from reportsvc.queues.messages import DEAD, DELAYED, HELD, WAITING

NO_MESSAGE = "no_message"  # the row has no message id (never enqueued, or the send failed)
UNAVAILABLE = "unavailable"  # Redis did not answer


@dataclass(frozen=True)
class MessagePlace:
    """One report's message location, ready to show."""

    state: str
    message_id: str | None = None
    queue: str | None = None
    redis_id: str | None = None
    position: int | None = None
    eta: datetime | None = None
    worker: str | None = None
    worker_alive: bool | None = None
    dead_at: datetime | None = None
    error: str | None = None
    more_ahead: bool = False

    @property
    def summary(self) -> str:
        """One sentence for the detail page."""
        if self.state == WAITING:
            if self.more_ahead:
                return f"Waiting, with more than {POSITION_SCAN_LIMIT:,} messages ahead."
            if self.position is None:
                return "Waiting in the queue."
            ahead = self.position
            return "Waiting: next to run." if ahead == 0 else f"Waiting at position {ahead + 1} ({ahead} ahead)."
        if self.state == DELAYED:
            when = self.eta.strftime("%Y-%m-%d %H:%M:%S UTC") if self.eta else "an unknown time"
            holder = f", held by worker {self.worker}" if self.worker else ""
            return f"Delayed until {when}{holder}."
        if self.state == HELD:
            if self.worker is None:
                return "Held by a worker that is no longer registered (will be redelivered)."
            alive = "" if self.worker_alive in (None, True) else " (worker looks dead: no heartbeat)"
            return f"Held by worker {self.worker}{alive}."
        if self.state == DEAD:
            since = self.dead_at.strftime("%Y-%m-%d %H:%M:%S UTC") if self.dead_at else "an unknown time"
            return f"Dead-lettered since {since}."
        if self.state == NO_MESSAGE:
            return "No message recorded for this report."
        if self.state == UNAVAILABLE:
            return f"Queue state unavailable: {self.error or 'Redis did not answer'}."
        return "Not in any queue (finished, removed, or expired)."


def locate_report_message(client: redis.Redis, message_id: str | None) -> MessagePlace:
    """Where the message `message_id` (as stored on the report row) is now; never raises."""
    if not message_id:
        return MessagePlace(state=NO_MESSAGE)
    try:
        found = resolve(client, message_id)
        if found is None:
            return MessagePlace(state=NOWHERE, message_id=message_id)
        queue, redis_id = found
        loc = locate_message(client, queue, redis_id, report_actors=REPORT_ACTORS)
    except redis.RedisError as exc:
        return MessagePlace(state=UNAVAILABLE, message_id=message_id, error=type(exc).__name__)
    return MessagePlace(
        state=loc.state,
        message_id=message_id,
        queue=canonical_queue(queue),
        redis_id=redis_id,
        position=loc.position,
        more_ahead=loc.more_ahead,
        eta=loc.eta,
        worker=loc.worker_id,
        worker_alive=loc.worker_alive,
        dead_at=loc.dead_at,
    )
