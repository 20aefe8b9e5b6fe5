"""A worker process's writer of finished attempts' report-log lines: several reports' lines in one INSERT.

Without it (REPORT_LOG_BATCH_MS=0) each attempt's last lines are written by the job thread when the attempt
ends: a transaction and an INSERT per report. With it, the job thread hands them over and returns; the
writer's thread wakes on the first lines handed over, waits the batch interval, and writes everything held
in one INSERT (one transaction, ids in the order handed over). A write that fails keeps the lines, in order,
for a retry a second later. At worker shutdown the middleware stops the thread and writes what is held, so a
graceful stop loses no line; a killed process loses at most the last interval's.

A retried attempt's capture writes what is held first (`flush`), so its cap counts every earlier line and
its lines follow the earlier attempt's.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from reportsvc.state import report_logs
from reportsvc.worker import context

log = logging.getLogger("reportsvc.worker.report_log")

#: After a failed write, the held lines are tried again this much later.
RETRY_SECONDS = 1.0


class Writer:
    """One thread writing the lines handed over every `interval` seconds, in one INSERT."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # guards _rows
        self._writing = threading.Lock()  # one write at a time, so lines go in in the order handed over
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="reportsvc-report-log", daemon=True)

    def start(self) -> None:
        """Start the writing thread."""
        self._thread.start()

    def hand(self, rows: list[dict[str, Any]]) -> None:
        """Hold these lines for the next write."""
        with self._lock:
            self._rows.extend(rows)
        if self._stopping:  # handed over after (or during) the last write of `stop`: write it now
            self.flush()
        elif not self._wake.is_set():
            self._wake.set()

    def flush(self) -> bool:
        """Write everything held now, in one INSERT; False when that failed (the lines are kept)."""
        with self._writing:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return True
            try:
                with context.get_app().app_context():
                    report_logs.append(rows)
                return True
            except Exception as exc:
                with self._lock:
                    self._rows[:0] = rows
                log.warning("%d report log lines not written yet (retried): %s", len(rows), exc)
                return False

    def _run(self) -> None:
        while not self._stopping:  # `stop` writes what a stopped thread left held
            self._wake.wait()
            if self._stopping:
                return
            time.sleep(self.interval)  # let the batch fill: the point of batching
            self._wake.clear()
            if not self.flush():
                self._wake.set()
                time.sleep(RETRY_SECONDS)

    def stop(self) -> None:
        """Stop the thread, then write what is still held."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()


_writer: Writer | None = None
_lock = threading.Lock()


def start(batch_ms: int) -> None:
    """Batch this process's finished attempts' lines every `batch_ms` ms from now on (0: leave them inline)."""
    global _writer
    if batch_ms <= 0:
        return
    with _lock:
        if _writer is None:
            writer = Writer(batch_ms / 1000.0)
            writer.start()
            _writer = writer


def stop() -> None:
    """Stop batching (attempts write their own lines again) and write what is held."""
    global _writer
    with _lock:
        writer, _writer = _writer, None
    if writer is not None:
        writer.stop()


def hand(rows: list[dict[str, Any]]) -> bool:
    """Hold an attempt's last lines for the process's writer; False when none runs (the caller writes them)."""
    writer = _writer
    if writer is None:
        return False
    if rows:
        writer.hand(rows)
    return True


def flush() -> None:
    """Write what the process's writer holds now (before a retried attempt counts its report's lines)."""
    writer = _writer
    if writer is not None:
        writer.flush()
