"""Data sources that feed report types from PostgreSQL and Redis (the reports package stays pure)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import Any

from sqlalchemy import text

from .broker import QUEUES
from .extensions import db

log = logging.getLogger("reportsvc.sources")


class DatabaseOperationsSource:
    """The operations report's numbers, read from report_requests and the broker."""

    def status_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        """Reports created in the window, by status."""
        rows = db.session.execute(
            text("SELECT status, count(*) FROM report_requests WHERE created_at >= :s AND created_at < :u "
                 "GROUP BY status"),
            {"s": since, "u": until},
        ).all()
        return {status: int(n) for status, n in rows}

    def hourly_throughput(self, since: datetime, until: datetime) -> list[tuple[datetime, int, int]]:
        """Per hour: reports that finished READY and FAILED."""
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
        """Run time of READY reports (started to finished) at p50/p90/p95/p99 and the maximum."""
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
        """The most common error messages of reports that failed in the window."""
        rows = db.session.execute(
            text(
                "SELECT error_message, count(*) AS n FROM report_requests WHERE status = 'FAILED' "
                "AND finished_at >= :s AND finished_at < :u GROUP BY error_message ORDER BY n DESC LIMIT :l"
            ),
            {"s": since, "u": until, "l": limit},
        ).all()
        return [(msg, int(n)) for msg, n in rows]

    def queue_depths(self) -> list[dict[str, Any]]:
        """Queue counts at generation time; an unreachable Redis gives an empty table, not a failed report."""
        try:
            from .queues import stats
            from .redis_client import get_redis

            return [dataclasses.asdict(s) for s in stats.all_queue_stats(get_redis(), list(QUEUES))]
        except Exception as exc:
            log.warning("queue depths unavailable for the report: %s", exc)
            return []


def source_for(report_type: str) -> Any:
    """The data source a report type gathers from."""
    return DatabaseOperationsSource()
