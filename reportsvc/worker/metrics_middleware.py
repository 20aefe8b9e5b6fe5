"""Dramatiq middleware for observability: per-job metrics batch, queue wait, log context, worker beats.

* Every message runs inside a metrics batch: what the job counts (committed lifecycle events, its
  duration) goes to the process's buffer when it ends, pushed with other jobs' counts every second
  (WORKER_METRICS_BUFFERED; 0 pushes each job's batch in its own round trip, see `reportsvc.metrics`).
* A generate message's queue wait (enqueued, or due for a retry, to started) is observed.
* The report id and Dramatiq message id are put in the logging context, so every log line of the job
  carries both (`reportsvc.logs`).
* A worker process beats into a ZSET every few seconds (`reportsvc_workers_alive`) and samples queue
  depths into the capped list the dashboard draws (at most one sample per 10 s across all processes).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from dramatiq.middleware import Middleware

from reportsvc import logs, metrics
from reportsvc.config import get_settings
from reportsvc.names import GENERATE_ACTOR, REPORT_ACTORS

log = logging.getLogger("reportsvc.metrics")



class MetricsMiddleware(Middleware):
    """See the module docstring."""

    def __init__(self, queues: tuple[str, ...] = ("reports", "notifications")) -> None:
        self.queues = queues
        self._beaters: dict[int, tuple[threading.Thread, threading.Event]] = {}

    # -- per message

    def before_process_message(self, broker: Any, message: Any) -> None:
        """Open the job's batch and log context; observe the queue wait."""
        metrics.begin_job()
        report_id = message.args[0] if message.actor_name in REPORT_ACTORS and message.args else None
        logs.set_job_context(report_id=str(report_id) if report_id else None, message_id=message.message_id)
        if message.actor_name == GENERATE_ACTOR:
            due_ms = message.options.get("eta") or message.message_timestamp
            if due_ms:
                metrics.observe("report_queue_wait_seconds", max(0.0, time.time() - due_ms / 1000.0))

    def after_process_message(self, broker: Any, message: Any, *, result: Any = None, exception: Any = None) -> None:
        """Push the job's batch; clear the log context."""
        metrics.end_job(buffered=get_settings().hotpath.worker_metrics_buffered)
        logs.clear_job_context()

    after_skip_message = after_process_message  # type: ignore[assignment]

    # -- per worker

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        """Start beating for this worker."""
        stop = threading.Event()
        thread = threading.Thread(target=self._beat, args=(broker, stop), name="reportsvc-metrics-beat", daemon=True)
        self._beaters[id(worker)] = (thread, stop)
        thread.start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        """Stop beating and leave the alive set."""
        entry = self._beaters.pop(id(worker), None)
        if entry is None:
            return
        thread, stop = entry
        stop.set()
        thread.join(timeout=5)
        try:
            metrics.flush()  # the last second's buffered job counts (WORKER_METRICS_BUFFERED)
        except Exception as exc:
            log.debug("could not push the buffered counts: %s", exc)
        try:
            metrics.forget_worker(broker.client)
        except Exception as exc:
            log.debug("could not leave the workers set: %s", exc)

    def _beat(self, broker: Any, stop: threading.Event) -> None:
        client = broker.client
        while True:
            try:
                metrics.beat_worker(client)
                metrics.sample_depths(client, self.queues)
            except Exception as exc:  # Redis down: try again next beat
                log.debug("worker beat failed: %s", exc)
            if stop.wait(metrics.WORKER_BEAT_SECONDS):
                return
