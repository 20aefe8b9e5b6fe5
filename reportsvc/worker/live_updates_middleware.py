"""Starts a worker process's live-update batcher at boot and flushes it at shutdown (LIVE_UPDATE_BATCH_MS)."""

from __future__ import annotations

from typing import Any

from dramatiq.middleware import Middleware

from reportsvc.config import get_settings
from reportsvc.state import live_updates


class LiveUpdateBatches(Middleware):
    """See `reportsvc.state.live_updates`."""

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        """Batch this process's announces from now on (unless LIVE_UPDATE_BATCH_MS is 0)."""
        live_updates.start(get_settings().hotpath.live_update_batch_ms)

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        """Send what is queued once the job threads have stopped (before_worker_shutdown comes before they do)."""
        live_updates.stop()
