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

from reportsvc.names import COUNTS_GENERATION_KEY, EVENTS_CHANNEL

log = logging.getLogger("reportsvc.state.lifecycle")

#: After a failed send, events are dropped this long instead of each waiting out a connect timeout.
PAUSE_SECONDS = 5.0


class Batcher:
    """One thread sending queued events every `interval` seconds, in one pipeline, in the order queued."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._queue: collections.deque[str] = collections.deque()
        self._wake = threading.Event()
        self._stopping = False
        self._send_lock = threading.Lock()  # the thread's flush and the shutdown flush never interleave
        self._quiet_until = 0.0
        self._thread = threading.Thread(target=self._run, name="reportsvc-live-updates", daemon=True)

    def start(self) -> None:
        """Start the sending thread."""
        self._thread.start()

    def submit(self, event: str) -> None:
        """Queue one event's JSON for the next batch (a deque append: no lock taken on the job thread)."""
        if self._quiet_until and time.monotonic() < self._quiet_until:
            return
        self._queue.append(event)
        if self._stopping:  # queued after (or during) the last flush of `stop`: send it now, not never
            self.flush()
        elif not self._wake.is_set():
            self._wake.set()

    def _run(self) -> None:
        while not self._stopping:  # `stop` sends what a stopped thread left queued
            self._wake.wait()
            if self._stopping:
                return
            time.sleep(self.interval)  # let the batch fill: the point of batching
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        """Send everything queued now, in one pipeline."""
        from reportsvc.redis_client import get_redis

        with self._send_lock:
            events = []
            while self._queue:
                events.append(self._queue.popleft())
            if not events:
                return
            try:
                pipe = get_redis().pipeline(transaction=False)
                pipe.incr(COUNTS_GENERATION_KEY)
                for event in events:
                    pipe.publish(EVENTS_CHANNEL, event)
                pipe.execute()
            except Exception as exc:  # Redis down: drop this batch, and the next ones for a while
                self._quiet_until = time.monotonic() + PAUSE_SECONDS
                log.debug("%d live-update events not published: %s", len(events), exc)

    def stop(self) -> None:
        """Stop the thread, then send what is still queued."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()


_batcher: Batcher | None = None
_lock = threading.Lock()


def start(batch_ms: int) -> None:
    """Batch this process's announces every `batch_ms` ms from now on (0: leave them synchronous)."""
    global _batcher
    if batch_ms <= 0:
        return
    with _lock:
        if _batcher is None:
            batcher = Batcher(batch_ms / 1000.0)
            batcher.start()
            _batcher = batcher


def stop() -> None:
    """Stop batching (announces are synchronous again) and send what is queued."""
    global _batcher
    with _lock:
        batcher, _batcher = _batcher, None
    if batcher is not None:
        batcher.stop()


def submit(event: str) -> bool:
    """Queue an event if this process batches its announces; False when the caller must publish it itself."""
    batcher = _batcher
    if batcher is None:
        return False
    batcher.submit(event)
    return True
