"""A worker process's live-update announces, sent in batches by one thread (LIVE_UPDATE_BATCH_MS).

The lifecycle announces each transition it commits (`lifecycle.announce`: a PUBLISH to the console's event
streams and an INCR of the counts generation). Sent one by one that is a redis-py pipeline and a round trip
per claim and per finish, paid by the job thread. With a batcher running, `submit` queues the event's JSON
and returns; the batcher's thread wakes on the first queued event, waits the batch interval, and sends
everything queued in one pipeline: one INCR of the counts generation first (the rows behind every event were
committed before it was queued), then each event's PUBLISH in the order queued. A report's events are queued
in the order its transitions committed, and one thread sends them, so 'claimed' never follows 'completed'.

Only a worker process starts one (the worker middleware, at boot; stopped with a last flush at shutdown);
anywhere else, and with LIVE_UPDATE_BATCH_MS=0, `submit` returns False and the caller publishes at once.
As before, a live update is best effort: a send that fails drops its batch and what is queued for the next
PAUSE_SECONDS (the console polls as its fallback; a reconnecting stream resyncs).
"""

from __future__ import annotations

import collections
import logging
import threading
import time

from reportsvc.batching import BatchThread, ProcessSlot
from reportsvc.names import COUNTS_GENERATION_KEY, EVENTS_CHANNEL

log = logging.getLogger("reportsvc.state.lifecycle")

#: After a failed send, events are dropped this long instead of each waiting out a connect timeout.
PAUSE_SECONDS = 5.0


class Batcher(BatchThread):
    """One thread sending queued events every `interval` seconds, in one pipeline, in the order queued."""

    def __init__(self, interval: float) -> None:
        super().__init__(interval, "reportsvc-live-updates")
        self._queue: collections.deque[str] = collections.deque()
        self._send_lock = threading.Lock()  # the thread's flush and the shutdown flush never interleave
        self._quiet_until = 0.0

    def submit(self, event: str) -> None:
        """Queue one event's JSON for the next batch (a deque append: no lock taken on the job thread)."""
        if self._quiet_until and time.monotonic() < self._quiet_until:
            return
        self._queue.append(event)
        self.queued()

    def flush(self) -> bool:
        """Send everything queued now, in one pipeline (a failed send drops the batch: always True)."""
        from reportsvc.redis_client import get_redis

        with self._send_lock:
            events = []
            while self._queue:
                events.append(self._queue.popleft())
            if not events:
                return True
            try:
                pipe = get_redis().pipeline(transaction=False)
                pipe.incr(COUNTS_GENERATION_KEY)
                for event in events:
                    pipe.publish(EVENTS_CHANNEL, event)
                pipe.execute()
            except Exception as exc:  # Redis down: drop this batch, and the next ones for a while
                self._quiet_until = time.monotonic() + PAUSE_SECONDS
                log.debug("%d live-update events not published: %s", len(events), exc)
            return True


#: The process's one Batcher (started by the worker middleware at boot, stopped at shutdown).
slot: ProcessSlot[Batcher] = ProcessSlot(Batcher)


def submit(event: str) -> bool:
    """Queue an event if this process batches its announces; False when the caller must publish it itself."""
    batcher = slot.current
    if batcher is None:
        return False
    batcher.submit(event)
    return True
