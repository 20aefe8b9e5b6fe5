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
from typing import Any

from reportsvc.batching import BatchThread, ProcessSlot
from reportsvc.state import report_logs
from reportsvc.worker import context

log = logging.getLogger("reportsvc.worker.report_log")

#: After a failed write, the held lines are tried again this much later.
RETRY_SECONDS = 1.0


class Writer(BatchThread):
    """One thread writing the lines handed over every `interval` seconds, in one INSERT."""

    retry_seconds = RETRY_SECONDS

    def __init__(self, interval: float) -> None:
        super().__init__(interval, "reportsvc-report-log")
        self._rows: list[dict[str, Any]] = []
        self._lock = threading.Lock()  # guards _rows
        self._writing = threading.Lock()  # one write at a time, so lines go in in the order handed over

    def hand(self, rows: list[dict[str, Any]]) -> None:
        """Hold these lines for the next write."""
        with self._lock:
            self._rows.extend(rows)
        self.queued()

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


#: The process's one Writer (started by the worker middleware at boot, stopped at shutdown).
slot: ProcessSlot[Writer] = ProcessSlot(Writer)


def hand(rows: list[dict[str, Any]]) -> bool:
    """Hold an attempt's last lines for the process's writer; False when none runs (the caller writes them)."""
    writer = slot.current
    if writer is None:
        return False
    if rows:
        writer.hand(rows)
    return True


def flush() -> None:
    """Write what the process's writer holds now (before a retried attempt counts its report's lines)."""
    writer = slot.current
    if writer is not None:
        writer.flush()
