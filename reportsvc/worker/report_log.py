"""Capture the log lines written while a worker handles a report, and keep them with the report.

A handler on the root logger sees every record (the service's own and those of report types); the ones emitted
on a thread that is handling a report (`capturing(...)` around the attempt) are buffered for that report, with
level, time, attempt and worker. A job's step lines under WORKER_LOG_LINES=summary come in through
`reportsvc.logs.step` instead (its sink is `_to_capture` here), without a log record (the worker's own log
would drop them anyway). The buffer is written to `report_logs` by the heartbeat thread each beat (so the
console's Logs tab is live while RUNNING) and when the attempt ends.

The cap (REPORT_LOG_LINES) counts a report's lines across its attempts; past it, lines are counted, not
kept, and one "N lines dropped" line ends the attempt's log.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback as tb
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from reportsvc import logs
from reportsvc.state import report_logs
from reportsvc.worker import report_log_writer

log = logging.getLogger("reportsvc.worker.report_log")

_local = threading.local()
#: An `extra=` key: a traceback to keep with the line without printing it to the worker's own log.
TRACEBACK_EXTRA = "report_traceback"


class Capture:
    """One attempt's buffered lines, and how many the cap let through."""

    def __init__(self, report_id: uuid.UUID, attempt: int, worker: str, *, cap: int, already: int) -> None:
        self.report_id, self.attempt, self.worker, self.cap = report_id, attempt, worker, cap
        self.kept = already
        self.dropped = 0
        self.lock = threading.Lock()
        self.rows: list[dict[str, Any]] = []

    def add(self, record: logging.LogRecord) -> None:
        """Buffer one record (or count it as dropped past the cap)."""
        with self.lock:
            if self.kept >= self.cap:
                self.dropped += 1
                return
            self.kept += 1
            self.rows.append(self._row(record))

    def add_line(self, levelno: int, logger: str, message: str) -> None:
        """Buffer one line that was not logged (a job step under WORKER_LOG_LINES=summary, see `step`) as `add`
        would have buffered its record."""
        row = self._line(time.time(), levelno, logging.getLevelName(levelno), logger, message, None)
        with self.lock:
            if self.kept >= self.cap:
                self.dropped += 1
                return
            self.kept += 1
            self.rows.append(row)

    def _row(self, record: logging.LogRecord) -> dict[str, Any]:
        trace = getattr(record, TRACEBACK_EXTRA, None)
        if trace is None and record.exc_info and record.exc_info[0] is not None:
            trace = "".join(tb.format_exception(*record.exc_info))
        return self._line(record.created, record.levelno, record.levelname, record.name, record.getMessage(), trace)

    def _line(self, created: float, levelno: int, level: str, logger: str, message: str,
              trace: str | None) -> dict[str, Any]:
        return {"report_id": self.report_id, "attempt": self.attempt,
                "logged_at": datetime.fromtimestamp(created, UTC), "level": level[:16], "levelno": levelno,
                "logger": logger[:255], "message": message[:10_000], "traceback": trace, "worker": self.worker}

    def flush(self) -> None:
        """Write what is buffered (one INSERT); on failure the lines are kept for the next flush."""
        with self.lock:
            rows, self.rows = self.rows, []
        if not rows:
            return
        try:
            report_logs.append(rows)
        except Exception as exc:
            with self.lock:
                self.rows[:0] = rows
            log.debug("report log flush failed (next beat retries): %s", exc)

    def close(self) -> None:
        """End the attempt's log: the dropped-lines note, then a last flush (handed to the process's writer
        when one runs: REPORT_LOG_BATCH_MS)."""
        if self.dropped:
            record = logging.LogRecord("reportsvc.worker.report_log", logging.WARNING, __file__, 0,
                                       "%d lines dropped (REPORT_LOG_LINES=%d)", (self.dropped, self.cap), None)
            with self.lock:
                self.rows.append(self._row(record))
        with self.lock:
            rows, self.rows = self.rows, []
        if not report_log_writer.hand(rows):
            with self.lock:
                self.rows[:0] = rows
            self.flush()


class _Handler(logging.Handler):
    """Routes a record to the capture of the thread that emitted it, if any."""

    def emit(self, record: logging.LogRecord) -> None:
        capture = getattr(_local, "capture", None)
        if capture is not None:
            capture.add(record)


def _to_capture(logger: str, msg: str, args: tuple[Any, ...]) -> None:
    """A step line under WORKER_LOG_LINES=summary: into this thread's capture, if it has one."""
    capture = getattr(_local, "capture", None)
    if capture is not None:
        capture.add_line(logging.INFO, logger, msg % args if args else msg)


logs.set_step_sink(_to_capture)


_install_lock = threading.Lock()


def install() -> None:
    """Put the capturing handler on the root logger unless it is there (checked each attempt, not remembered:
    whatever reconfigures logging in the process, e.g. Alembic's fileConfig during an in-process upgrade,
    replaces the root logger's handlers, and a remembered flag would then capture nothing)."""
    root = logging.getLogger()
    if any(isinstance(each, _Handler) for each in root.handlers):
        return
    with _install_lock:
        if not any(isinstance(each, _Handler) for each in root.handlers):
            root.addHandler(_Handler(level=logging.DEBUG))


@contextmanager
def capturing(report_id: uuid.UUID, attempt: int, worker: str, cap: int) -> Iterator[Capture]:
    """Capture this thread's log lines for the report's attempt; written at the end (and by `flush`)."""
    install()
    if attempt > 1:
        report_log_writer.flush()  # an earlier attempt's last lines, if still held: counted, and before these
    already = report_logs.count(report_id) if attempt > 1 else 0
    capture = Capture(report_id, attempt, worker, cap=cap, already=already)
    _local.capture = capture
    try:
        yield capture
    finally:
        _local.capture = None  # nothing the final write logs is captured into itself
        capture.close()
