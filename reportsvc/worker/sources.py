"""Data sources that feed report types from PostgreSQL and Redis (the reports package stays pure).

Staleness of the operations report (per-process figure cache)
-------------------------------------------------------------
Every operations report runs the same five aggregates (four scans of `report_requests` over the
window plus one Redis read of the queue counters). Under load a worker renders many of them per
second, each scanning the same rows while other threads update them, so one worker process reuses
each figure for up to ``REPORT_DATA_CACHE_SECONDS`` (default 5 s; 0 switches the cache off):

* A figure is cached per (query, window length, arguments) and per ``REPORT_DATA_CACHE_SECONDS``
  bucket of the window's end. A report whose window ends within the same bucket as a report that
  already asked gets that report's figures, so **its numbers can be up to REPORT_DATA_CACHE_SECONDS
  stale** (they describe a window that ended at most that much earlier). The window printed on the
  report is still the one it asked for. Fine for an operations summary; not a ledger.
* The cache is per process and bounded; nothing is shared across processes or hosts.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import text

from reportsvc.extensions import db
from reportsvc.names import QUEUES
from reportsvc.worker.readonly import readonly_source

log = logging.getLogger("reportsvc.sources")

T = TypeVar("T")

_CACHE_MAX_ENTRIES = 256
_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
_cache_lock = threading.Lock()


def reset_cache() -> None:
    """Forget every cached figure (tests)."""
    with _cache_lock:
        _cache.clear()


def _cache_seconds() -> float:
    from reportsvc.config import get_settings

    return get_settings().report_data_cache_seconds


def _cached(name: str, since: datetime, until: datetime, args: tuple[Any, ...], compute: Callable[[], T]) -> T:
    """compute() once per (name, window length, args, bucket of `until`) and process; see the module doc."""
    ttl = _cache_seconds()
    if ttl <= 0:
        return compute()
    key = (name, (until - since).total_seconds(), args, int(until.timestamp() // ttl))
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < ttl:
        return hit[1]  # type: ignore[no-any-return]
    value = compute()
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX_ENTRIES:
            expired = [k for k, (at, _) in _cache.items() if now - at >= ttl]
            for stale in expired or list(_cache)[: _CACHE_MAX_ENTRIES // 2]:
                _cache.pop(stale, None)
        _cache[key] = (now, value)
    return value


class DatabaseOperationsSource:
    """The operations report's numbers, read from report_requests and the broker."""

    def status_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        """Reports created in the window, by status (cached, see the module doc)."""
        return dict(_cached("status_counts", since, until, (), lambda: self._status_counts(since, until)))

    def _status_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        rows = db.session.execute(
            text("SELECT status, count(*) FROM report_requests WHERE created_at >= :s AND created_at < :u "
                 "GROUP BY status"),
            {"s": since, "u": until},
        ).all()
        return {status: int(n) for status, n in rows}

    def hourly_throughput(self, since: datetime, until: datetime) -> list[tuple[datetime, int, int]]:
        """Per hour: reports that finished READY and FAILED (cached, see the module doc)."""
        return list(_cached("hourly_throughput", since, until, (), lambda: self._hourly_throughput(since, until)))

    def _hourly_throughput(self, since: datetime, until: datetime) -> list[tuple[datetime, int, int]]:
        rows = db.session.execute(
            text(
                "SELECT date_trunc('hour', finished_at) AS h, "
                "count(*) FILTER (WHERE status = 'READY'), count(*) FILTER (WHERE status = 'FAILED') "
                "FROM report_requests WHERE finished_at >= :s AND finished_at < :u "
                "AND status IN ('READY','FAILED') GROUP BY h ORDER BY h"
            ),
            {"s": since, "u": until},
        ).all()
        return [(h, int(ok), int(bad)) for h, ok, bad in rows]

    def duration_percentiles(self, since: datetime, until: datetime) -> dict[str, float | None]:
        """Run time of READY reports (started to finished) at p50/p90/p95/p99 and the maximum (cached)."""
        return dict(_cached("duration_percentiles", since, until, (),
                            lambda: self._duration_percentiles(since, until)))

    def _duration_percentiles(self, since: datetime, until: datetime) -> dict[str, float | None]:
        row = db.session.execute(
            text(
                "SELECT percentile_cont(ARRAY[0.5,0.9,0.95,0.99]) WITHIN GROUP (ORDER BY d), max(d) FROM ("
                " SELECT extract(epoch FROM finished_at - started_at) AS d FROM report_requests"
                " WHERE status = 'READY' AND finished_at >= :s AND finished_at < :u AND started_at IS NOT NULL) t"
            ),
            {"s": since, "u": until},
        ).one()
        values, top = row
        if not values:
            return {"p50": None, "p90": None, "p95": None, "p99": None, "max": None}
        p50, p90, p95, p99 = (float(v) if v is not None else None for v in values)
        return {"p50": p50, "p90": p90, "p95": p95, "p99": p99, "max": float(top) if top is not None else None}

    def top_failures(self, since: datetime, until: datetime, limit: int) -> list[tuple[str | None, int]]:
        """The most common error messages of reports that failed in the window (cached)."""
        return list(_cached("top_failures", since, until, (limit,), lambda: self._top_failures(since, until, limit)))

    def _top_failures(self, since: datetime, until: datetime, limit: int) -> list[tuple[str | None, int]]:
        rows = db.session.execute(
            text(
                "SELECT error_message, count(*) AS n FROM report_requests WHERE status = 'FAILED' "
                "AND finished_at >= :s AND finished_at < :u GROUP BY error_message ORDER BY n DESC LIMIT :l"
            ),
            {"s": since, "u": until, "l": limit},
        ).all()
        return [(msg, int(n)) for msg, n in rows]

    def queue_depths(self) -> list[dict[str, Any]]:
        """Queue counts at generation time (cached for REPORT_DATA_CACHE_SECONDS of wall time)."""
        now = datetime.now().astimezone()
        return [dict(q) for q in _cached("queue_depths", now, now, (), self._queue_depths)]

    def _queue_depths(self) -> list[dict[str, Any]]:
        """Queue counts now; an unreachable Redis gives an empty table, not a failed report."""
        try:
            from reportsvc.queues import stats
            from reportsvc.redis_client import get_redis

            return [dataclasses.asdict(s) for s in stats.all_queue_stats(get_redis(), list(QUEUES))]
        except Exception as exc:
            log.warning("queue depths unavailable for the report: %s", exc)
            return []


def source_for(report_type: str, progress: Callable[[int, str], None] | None = None) -> Any:
    """The data source a report type gathers from: the operations figures, or read-only SQL for the rest."""
    if report_type == "operations":
        return DatabaseOperationsSource()
    return readonly_source(progress)
