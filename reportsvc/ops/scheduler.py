"""The scheduler process: APScheduler running the stall sweep, the reconcile, housekeeping, retention and
the report schedules' poll (ops/schedules.py).

Runs as its own process (`flask --app app scheduler`), never inside web
workers. Any number may run; see sweeper.py for why that is safe.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from reportsvc.config import Settings
from reportsvc.ops import alerts, bulkjobs, retention, schedules, storage_sweep, sweeper
from reportsvc.queues import stats
from reportsvc.redis_client import get_redis

log = logging.getLogger("reportsvc.ops.scheduler")

TEMP_FILE_MAX_AGE_SECONDS = 3600


def _in_app(app: Flask, job: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with app.app_context():
            return job()

    run.__name__ = getattr(job, "__name__", "job")
    return run


def clean_temp_files(storage_dir: Path, max_age_seconds: float = TEMP_FILE_MAX_AGE_SECONDS) -> int:
    """Delete half-written PDFs left by killed workers (never a finished file)."""
    if not storage_dir.is_dir():
        return 0
    cutoff = time.time() - max_age_seconds
    removed = 0
    for path in storage_dir.rglob(".tmp-*.part"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed


def run_retention(client: redis.Redis, settings: Settings) -> str:
    """One scheduled purge under the schedulers' shared lock; the counts line for the log."""
    # Row locks (SKIP LOCKED) already keep two purgers from fighting; the lock avoids the duplicate walk.
    # Its TTL is below the interval (60 s at least): a scheduler that died holding it delays one run at most.
    ttl_ms = int(max(60.0, settings.retention_interval_seconds * 0.9) * 1000)
    with sweeper.redis_lock(client, "retention", ttl_ms=ttl_ms) as acquired:
        if not acquired:
            return "examined 0, another scheduler holds the lock; skipped"
        return retention.purge(settings).summary()


def build_scheduler(app: Flask, settings: Settings) -> BlockingScheduler:
    """A blocking APScheduler with every recurring job of the service."""
    # APScheduler logs "Adding job tentatively" per job added before start, and two INFO lines per job run
    # (every 5 s for the sweep); the listener below says what each run did, so only its warnings and errors
    # are worth a line. Quieted before the first add_job.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = BlockingScheduler(timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1,
                                                              "misfire_grace_time": 30})
    client = get_redis()
    soon = datetime.now(UTC) + timedelta(seconds=1)

    def stall_sweep() -> str:
        return sweeper.sweep_stalled(client, settings).summary()

    def reconcile() -> str:
        return sweeper.reconcile_orphans(client, settings).summary()

    def housekeeping() -> str:
        return f"removed {clean_temp_files(settings.storage_dir)} stale temp files"

    known: list[list[str]] = []

    def discover() -> str | None:
        # SCAN is too slow for request paths; the console reads the cached list this job writes.
        found = list(stats.refresh_discovered_queues(client))
        if known and known[-1] == found:
            return None  # nothing new: said at debug level only
        known[:] = [found]
        return f"queues: {', '.join(found) or 'none yet'}"

    def bulk_jobs() -> str:
        resumed = bulkjobs.resume_stale()
        return f"resumed {len(resumed)} bulk jobs" if resumed else "examined 0, no stale bulk jobs"

    def purge() -> str:
        return run_retention(client, settings)

    def evaluate_alerts() -> str:
        return alerts.evaluate(client, settings)

    def due_schedules() -> str:
        return schedules.poll(settings).summary()
    def orphans() -> str:
        return storage_sweep.sweep_orphans(settings).summary()

    scheduler.add_job(_in_app(app, stall_sweep), "interval", seconds=settings.stall_sweep_interval_seconds,
                      id="stall_sweep", name="stall sweep", next_run_time=soon)
    scheduler.add_job(_in_app(app, reconcile), "interval", seconds=settings.reconcile_interval_seconds,
                      id="reconcile", name="orphan reconcile", next_run_time=soon)
    scheduler.add_job(_in_app(app, housekeeping), "interval", minutes=10, id="housekeeping", name="housekeeping")
    scheduler.add_job(_in_app(app, discover), "interval", seconds=60, id="discover_queues", name="queue discovery",
                      next_run_time=soon)
    scheduler.add_job(_in_app(app, evaluate_alerts), "interval", seconds=settings.push.alert_interval_seconds,
                      id="alerts", name="alert rules", next_run_time=soon)
    scheduler.add_job(_in_app(app, bulk_jobs), "interval", seconds=15, id="bulk_jobs", name="bulk job watchdog")
    scheduler.add_job(_in_app(app, due_schedules), "interval", seconds=settings.schedule_poll_seconds,
                      id="schedules", name="due schedules", next_run_time=soon)
    scheduler.add_job(_in_app(app, orphans), "interval", seconds=settings.storage.orphan_sweep_interval_seconds,
                      id="storage_orphans", name="stored file housekeeping")
    if settings.retention_enabled:
        # The first run waits a little so a restart does not start with a burst of deletions beside start-up work.
        first = datetime.now(UTC) + timedelta(seconds=min(settings.retention_interval_seconds, 60))
        scheduler.add_job(_in_app(app, purge), "interval", seconds=settings.retention_interval_seconds,
                          id="retention", name="retention purge", next_run_time=first)

    def report(event: JobExecutionEvent) -> None:
        if event.exception is not None:
            log.error("%s failed: %s", event.job_id, event.exception)
        elif event.retval and "examined 0," not in str(event.retval) and "removed 0 " not in str(event.retval):
            log.info("%s: %s", event.job_id, event.retval)
        else:
            log.debug("%s: %s", event.job_id, event.retval)

    scheduler.add_listener(report, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    return scheduler


def run(app: Flask) -> None:
    """Run the scheduler until SIGTERM/SIGINT."""
    settings: Settings = app.extensions["reportsvc.settings"]
    scheduler = build_scheduler(app, settings)

    def stop(signum: int, _frame: Any) -> None:
        log.info("scheduler stopping (signal %d)", signum)
        scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("scheduler started: stall sweep every %gs (lock %ds, max stalls %d), reconcile every %gs",
             settings.stall_sweep_interval_seconds, settings.report_lock_seconds, settings.max_stalled_count,
             settings.reconcile_interval_seconds)
    log.info("report schedules polled every %gs (batches of %d)", settings.schedule_poll_seconds,
             settings.schedule_batch_size)
    if settings.retention_enabled:
        log.info("retention every %gs: %s", settings.retention_interval_seconds, retention.describe(settings))
    else:
        log.info("retention off (RETENTION_PDF_DAYS, RETENTION_REPORT_DAYS, RETENTION_AUDIT_DAYS are 0): "
                 "nothing is ever deleted")
    try:
        scheduler.start()
    finally:
        alerts.leave(get_redis(), alerts.scheduler_id())
    log.info("scheduler stopped")
