"""Where counts wait before they reach Redis: a job's thread-local batch (pushed once when the job
ends) or, outside a job, this process's buffer that a daemon thread flushes every ``FLUSH_SECONDS``.

Importing this module registers the fork and exit hooks of the buffer (once: a module runs once).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator

from reportsvc.metrics.push import Batch, push

log = logging.getLogger("reportsvc.metrics")

_local = threading.local()


def inc(name: str, labels: dict[str, object] | None = None, amount: int = 1) -> None:
    """Count something now (buffered while a job runs, pushed at its end)."""
    batch = Batch()
    batch.inc(name, labels, amount)
    emit(batch)


def observe(name: str, value: float, labels: dict[str, object] | None = None) -> None:
    """Observe a histogram value now (buffered while a job runs)."""
    batch = Batch()
    batch.observe(name, value, labels)
    emit(batch)


def emit(batch: Batch) -> None:
    """Add a batch to the running job's batch in this thread, else to this process's buffer."""
    job: Batch | None = getattr(_local, "job_batch", None)
    if job is not None:
        job.merge(batch)
    else:
        _buffer(batch)


# --------------------------------------------------------------------------- the per-process buffer

#: Outside a job (web requests, the scheduler, the CLI) counts collect here and a daemon thread pushes
#: them every FLUSH_SECONDS: one round trip per second per process instead of one per request (the
#: API's create path paid for it on every POST). A process that dies by SIGKILL loses at most that
#: last second of counts; a normal exit pushes what is left (atexit), and a scrape pushes its own
#: process's first, so /metrics never misses what the serving process counted.
FLUSH_SECONDS = 1.0
_pending = Batch()
_pending_lock = threading.Lock()
_flush_lock = threading.Lock()
_flusher_pid: int | None = None


def _buffer(batch: Batch) -> None:
    global _flusher_pid
    with _pending_lock:
        _pending.merge(batch)
        if _flusher_pid != os.getpid():  # first count in this process (or in a fork of it)
            _flusher_pid = os.getpid()
            threading.Thread(target=_flush_forever, name="metrics-flush", daemon=True).start()


def flush() -> None:
    """Push this process's buffered counts now; returns once every count taken so far has been pushed."""
    global _pending
    with _flush_lock:  # a flush racing the flusher thread waits for that thread's push to land
        with _pending_lock:
            batch, _pending = _pending, Batch()
        push(batch)


def _flush_forever() -> None:
    pid = os.getpid()
    while os.getpid() == pid:
        time.sleep(FLUSH_SECONDS)
        try:
            flush()
        except Exception as exc:  # never let the flusher die; push already logs Redis errors
            log.warning("metrics flush failed: %s", exc)


def _after_fork_in_child() -> None:
    global _pending, _pending_lock, _flush_lock, _flusher_pid
    # The parent's counts are the parent's to push; a lock may have been held by a parent thread.
    _pending, _pending_lock, _flush_lock, _flusher_pid = Batch(), threading.Lock(), threading.Lock(), None


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(flush)


@contextlib.contextmanager
def job_batch() -> Iterator[Batch]:
    """Buffer everything counted in this thread and push it once at the end (one round trip per job)."""
    outer = getattr(_local, "job_batch", None)
    batch = outer if outer is not None else Batch()
    _local.job_batch = batch
    try:
        yield batch
    finally:
        if outer is None:
            _local.job_batch = None
            push(batch)


def begin_job() -> None:
    """Start buffering for a job (middleware: before_process_message)."""
    _local.job_batch = Batch()


def end_job(*, buffered: bool = False) -> None:
    """Push what the job counted (middleware: after_process_message / after_skip_message).

    `buffered` (WORKER_METRICS_BUFFERED) hands it to this process's buffer instead, pushed with every other
    job's counts by the flusher thread within FLUSH_SECONDS: one round trip per second per worker process
    instead of one per job. A worker killed with SIGKILL loses at most that last second of counts."""
    batch = getattr(_local, "job_batch", None)
    _local.job_batch = None
    if batch:
        if buffered:
            _buffer(batch)
        else:
            push(batch)
