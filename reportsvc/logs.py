"""Logging: one line per event, the seed's terminal style or JSON with LOG_FORMAT=json."""

from __future__ import annotations

import atexit
import contextvars
import copy
import json
import logging
import queue
from collections.abc import Callable
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener
from typing import Any

from flask import Flask

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

# The job a log line belongs to: set by the Dramatiq middleware around every message
# (reportsvc.worker.metrics_middleware), read by the formatters below. Context variables are per thread here,
# so each worker thread carries its own job.
_job: contextvars.ContextVar[tuple[str | None, str | None]] = contextvars.ContextVar(
    "reportsvc_job", default=(None, None)
)


def set_job_context(*, report_id: str | None, message_id: str | None) -> None:
    """Every log line from this thread now names this report and message."""
    _job.set((report_id, message_id))


def clear_job_context() -> None:
    """The thread is between jobs."""
    _job.set((None, None))


def _job_ids(record: logging.LogRecord) -> tuple[str | None, str | None]:
    """The record's report and message ids: set explicitly (`extra=`), else the thread's current job."""
    report_id, message_id = _job.get()
    return getattr(record, "report_id", None) or report_id, getattr(record, "message_id", None) or message_id


def _with_job_ids(line: str, record: logging.LogRecord) -> str:
    report_id, message_id = _job_ids(record)
    extra = []
    if report_id and report_id not in line:
        extra.append(f"report {report_id}")
    if message_id and message_id not in line:
        extra.append(f"message {message_id}")
    return f"{line} [{', '.join(extra)}]" if extra else line


class TextFormatter(logging.Formatter):
    """The seed's terminal style; inside a job, ` [message <id>]` (and the report id) is appended
    unless the line already shows it (the seed's "Job <id> ..." lines show the report id)."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """Format, then add the job's ids the line does not already show."""
        return _with_job_ids(super().format(record), record)


class JobIdsFormatter(logging.Formatter):
    """Wraps a formatter someone else installed (dramatiq's CLI, gunicorn) to append the job's ids."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        """The inner formatter's line plus the job's ids."""
        return _with_job_ids(self.inner.format(record), record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        """Serialize the record with its timestamp, level, logger and message."""
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        report_id, message_id = _job_ids(record)
        if report_id is not None:
            payload["report_id"] = report_id
        if message_id is not None:
            payload["message_id"] = message_id
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:  # formatted already by the thread that logged it (_JobQueueHandler)
            payload["exc"] = record.exc_text
        return json.dumps(payload)


def configure(log_format: str = "text", level: int = logging.INFO) -> None:
    """Set up the reportsvc logger tree once per process."""
    logger = logging.getLogger("reportsvc")
    if getattr(logger, "_reportsvc_configured", False):
        return
    logger.setLevel(level)
    root = logging.getLogger()
    # Records propagate to the root logger, so whoever owns the process's logging (dramatiq's CLI,
    # gunicorn, pytest's capture) receives them once; we only add a handler when nobody did.
    if not root.handlers:
        handler = logging.StreamHandler()
        root.addHandler(handler)
        if root.level > level:
            root.setLevel(level)
    if log_format == "json":
        for each in root.handlers:
            each.setFormatter(JsonFormatter())
    else:
        for each in root.handlers:
            if each.formatter is None:
                each.setFormatter(TextFormatter())
            elif not isinstance(each.formatter, TextFormatter | JobIdsFormatter):
                each.setFormatter(JobIdsFormatter(each.formatter))
    # boto3 says where it found credentials at INFO on every client it builds (once per process).
    logging.getLogger("botocore.credentials").setLevel(logging.WARNING)
    logger._reportsvc_configured = True  # type: ignore[attr-defined]


class _JobQueueHandler(QueueHandler):
    """Hands records to the writer thread with what only the logging thread knows already resolved: the job's
    ids (a context variable of that thread), the message's arguments and the exception text. The writer's
    handlers then format it exactly as they would have (same time, level, logger, ids)."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        """A copy with ids, message and exception text fixed, safe to format in another thread."""
        out = copy.copy(record)
        out.report_id, out.message_id = _job_ids(record)
        out.msg, out.args = record.getMessage(), None
        if record.exc_info:
            out.exc_text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            out.exc_info = None
        return out


def write_from_thread() -> None:
    """Route the root logger's handlers through one writer thread (a QueueHandler and its listener).

    For Dramatiq worker processes, whose handler writes into a pipe to the parent process: a job thread then
    only appends to a queue, and never waits for the handler's lock or the pipe. Lines keep their order.
    Records still queued when the process is killed (not stopped) are lost.
    Only stream handlers move to the writer thread: a handler that needs the logging thread (the per-report
    log capture, reportsvc.worker.report_log, reads a thread-local) stays where it is."""
    root = logging.getLogger()
    streams = [each for each in root.handlers if isinstance(each, logging.StreamHandler)]
    if not streams or any(isinstance(each, QueueHandler) for each in root.handlers):
        return
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = QueueListener(records, *streams, respect_handler_level=True)
    root.handlers = [_JobQueueHandler(records), *(each for each in root.handlers if each not in streams)]
    listener.start()
    atexit.register(listener.stop)


#: `extra=` of a job's step lines (claimed, active, each phase, READY, email sent): with WORKER_LOG_LINES=summary
#: the process's own log leaves them out (`quiet_job_steps`) and shows the job's one summary line; the
#: per-report capture (a handler of its own) keeps every one. The generate job's own steps (active, each phase,
#: READY) then skip logging altogether and go straight into the capture (`step` below, its sink set by
#: reportsvc.worker.report_log); the claim's line, which no capture would hold, is not built.
JOB_STEP = {"job_step": True}


def steps_logged() -> bool:
    """Whether the worker's own log shows a job's step lines (WORKER_LOG_LINES=verbose). Under `summary`, a step
    line that no report's log would capture (the claim's: the capture starts after it) need not be built."""
    get = _get_settings or _load_get_settings()
    return get().hotpath.worker_log_lines == "verbose"


#: reportsvc.config.get_settings, imported on first use (reportsvc.config cannot be imported while this module
#: loads) and then kept: an import statement in `steps_logged` ran on every step line, seven a report.
_get_settings: Callable[[], Any] | None = None


def _load_get_settings() -> Callable[[], Any]:
    global _get_settings
    from reportsvc.config import get_settings

    _get_settings = get_settings
    return get_settings


#: Where a step line goes under WORKER_LOG_LINES=summary (`step`): the report log capture of the calling thread,
#: set by reportsvc.worker.report_log when it loads; None (nothing loaded it) drops the line, as the worker's
#: own log would.
_step_sink: Callable[[str, str, tuple[Any, ...]], None] | None = None


def set_step_sink(sink: Callable[[str, str, tuple[Any, ...]], None]) -> None:
    """Name the receiver of step lines under WORKER_LOG_LINES=summary (logger name, message, its arguments)."""
    global _step_sink
    _step_sink = sink


def step(logger: logging.Logger, msg: str, *args: Any) -> None:
    """A job's step line (`JOB_STEP`): logged under WORKER_LOG_LINES=verbose; under summary the worker's own log
    leaves steps out, so the line goes straight to the step sink (this thread's report log capture, the same row
    a record would have made) without building a record or running the handlers."""
    if steps_logged():
        logger.info(msg, *args, extra=JOB_STEP)
        return
    sink = _step_sink
    if sink is not None and logger.isEnabledFor(logging.INFO):
        sink(logger.name, msg, args)


def _not_a_step(record: logging.LogRecord) -> bool:
    return not getattr(record, "job_step", False)


def quiet_job_steps() -> None:
    """Keep JOB_STEP lines out of the root logger's stream handlers (and its queue handler): the record is
    dropped before it is formatted or crosses Dramatiq's pipe to the parent process. Handlers that are
    neither (the per-report log capture) still receive it."""
    for each in logging.getLogger().handlers:
        if isinstance(each, logging.StreamHandler | QueueHandler) and _not_a_step not in each.filters:
            each.addFilter(_not_a_step)


def init_app(app: Flask) -> None:
    """Configure logging from the app's settings."""
    configure(app.extensions["reportsvc.settings"].log_format)
