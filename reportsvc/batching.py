"""A process's background thread that sends what its threads queued, in batches, and its start and stop.

Used by the worker process for its live-update announces (reportsvc.state.live_updates) and its finished
attempts' report-log lines (reportsvc.worker.report_log_writer). The thread sleeps until something is
queued, waits the batch interval so more can join, then flushes; a flush that fails is tried again a little
later. Stopping flushes what is left, and anything queued after that is flushed by the caller's thread, so
nothing queued is left behind by a graceful stop.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Generic, TypeVar


class BatchThread(ABC):
    """One daemon thread calling `flush` `interval` seconds after the first item queued since the last one.

    Subclasses hold their own items, call `queued()` after adding one, and implement `flush`."""

    #: After a flush that failed (returned False), the next try comes this much later.
    retry_seconds = 1.0

    def __init__(self, interval: float, name: str) -> None:
        self.interval = interval
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    @abstractmethod
    def flush(self) -> bool:
        """Send everything held now; False when that failed and the items are kept for a retry."""

    def queued(self) -> None:
        """Wake the thread for an item just added; once stopping, flush it here (the thread sends no more)."""
        if self._stopping:
            self.flush()
        elif not self._wake.is_set():
            self._wake.set()

    def stop(self) -> None:
        """Stop the thread, then flush what is still held."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()

    def _run(self) -> None:
        while not self._stopping:  # `stop` flushes what a stopped thread left held
            self._wake.wait()
            if self._stopping:
                return
            time.sleep(self.interval)  # let the batch fill: the point of batching
            self._wake.clear()
            if not self.flush():
                self._wake.set()
                time.sleep(self.retry_seconds)


T = TypeVar("T", bound=BatchThread)


class ProcessSlot(Generic[T]):
    """The one batch thread of its kind a process runs (none until started: callers then do the work inline)."""

    def __init__(self, make: Callable[[float], T]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self.current: T | None = None

    def start(self, batch_ms: int) -> None:
        """Run a thread batching every `batch_ms` ms from now on (0: none, leave the work inline)."""
        if batch_ms <= 0:
            return
        with self._lock:
            if self.current is None:
                thread = self._make(batch_ms / 1000.0)
                thread.start()
                self.current = thread

    def stop(self) -> None:
        """Stop the thread (the work is inline again) and flush what it held."""
        with self._lock:
            thread, self.current = self.current, None
        if thread is not None:
            thread.stop()
