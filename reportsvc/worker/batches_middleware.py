"""Starts a worker process's batching threads at boot and drains them at shutdown: the live-update announces
(LIVE_UPDATE_BATCH_MS) and the finished attempts' report-log lines (REPORT_LOG_BATCH_MS); at shutdown it
also closes the SMTP connections kept open between emails (EMAIL_KEEPALIVE_SECONDS)."""

from __future__ import annotations

from typing import Any

from dramatiq.middleware import Middleware

from reportsvc.config import get_settings
from reportsvc.state import live_updates
from reportsvc.worker import report_log_writer, smtp_session


class ProcessBatches(Middleware):
    """See `reportsvc.state.live_updates` and `reportsvc.worker.report_log_writer`."""

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        """Batch from now on (each unless its setting is 0)."""
        hotpath = get_settings().hotpath
        live_updates.slot.start(hotpath.live_update_batch_ms)
        report_log_writer.slot.start(hotpath.report_log_batch_ms)

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        """Write and send what is held once the job threads have stopped (before_worker_shutdown comes before
        they do)."""
        report_log_writer.slot.stop()
        live_updates.slot.stop()
        smtp_session.close_all()
