"""The pipeline baseline: a bare Dramatiq actor doing only what any job system must do for a report.

Claim UPDATE, gather the same figures with the same SQL (none for `--report page`), render the same PDF, write the file
atomically (the same storage code), READY UPDATE. No lifecycle module, no events, no heartbeat, no
progress writes, no email, no reportsvc middleware. Run with `dramatiq bench._pipeline_baseline`.
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import dramatiq
import psycopg
import redis
from dramatiq.brokers.redis import RedisBroker

from bench import _bare_steps, _page_type
from reportsvc.queues import stats
from reportsvc.reports import operations
from reportsvc.state.storage import LocalStorage

QUEUE = "bare"
DSN = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
STORAGE = LocalStorage(Path(os.environ["STORAGE_DIR"]))
broker = RedisBroker(url=os.environ["REDIS_URL"])
dramatiq.set_broker(broker)
_local = threading.local()
_redis = redis.Redis.from_url(os.environ["REDIS_URL"])


def _conn() -> psycopg.Connection[Any]:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        conn = _local.conn = psycopg.connect(DSN)
    return conn


class BareSource:
    """The operations report's figures with the product's SQL, on a plain connection."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def status_counts(self, since: datetime, until: datetime) -> dict[str, int]:
        rows = self.conn.execute(
            "SELECT status, count(*) FROM report_requests WHERE created_at >= %s AND created_at < %s GROUP BY status",
            (since, until),
        ).fetchall()
        return {s: int(n) for s, n in rows}

    def hourly_throughput(self, since: datetime, until: datetime) -> list[tuple[datetime, int, int]]:
        rows = self.conn.execute(
            "SELECT date_trunc('hour', finished_at) AS h, "
            "count(*) FILTER (WHERE status = 'READY'), count(*) FILTER (WHERE status = 'FAILED') "
            "FROM report_requests WHERE finished_at >= %s AND finished_at < %s "
            "AND status IN ('READY','FAILED') GROUP BY h ORDER BY h",
            (since, until),
        ).fetchall()
        return [(h, int(a), int(b)) for h, a, b in rows]

    def duration_percentiles(self, since: datetime, until: datetime) -> dict[str, float | None]:
        values, top = self.conn.execute(
            "SELECT percentile_cont(ARRAY[0.5,0.9,0.95,0.99]) WITHIN GROUP (ORDER BY d), max(d) FROM ("
            " SELECT extract(epoch FROM finished_at - started_at) AS d FROM report_requests"
            " WHERE status = 'READY' AND finished_at >= %s AND finished_at < %s AND started_at IS NOT NULL) t",
            (since, until),
        ).fetchone() or (None, None)
        if not values:
            return {"p50": None, "p90": None, "p95": None, "p99": None, "max": None}
        p50, p90, p95, p99 = (float(v) if v is not None else None for v in values)
        return {"p50": p50, "p90": p90, "p95": p95, "p99": p99, "max": float(top) if top is not None else None}

    def top_failures(self, since: datetime, until: datetime, limit: int) -> list[tuple[str | None, int]]:
        rows = self.conn.execute(
            "SELECT error_message, count(*) AS n FROM report_requests WHERE status = 'FAILED' "
            "AND finished_at >= %s AND finished_at < %s GROUP BY error_message ORDER BY n DESC LIMIT %s",
            (since, until, limit),
        ).fetchall()
        return [(m, int(n)) for m, n in rows]

    def queue_depths(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in stats.all_queue_stats(_redis, ["reports", "notifications"])]


@dramatiq.actor(queue_name=QUEUE, max_retries=0)
def bare_generate(report_id: str) -> None:
    """Claim, gather, render, write, READY: the minimum."""
    conn = _conn()
    run_id = uuid.uuid4()
    row = _bare_steps.claim(conn, report_id, run_id, "title, params, report_type")
    conn.commit()
    if row is None:
        return
    title, params, report_type = row
    if report_type == _page_type.NAME:  # bench.pipeline --report page: the same one page as the product's
        pdf = _page_type.render(_page_type.gather(None, _page_type.PageParams(), title=title))
    else:
        data = operations.gather(BareSource(conn), params or {}, title=title)
        conn.rollback()
        pdf = operations.render(data)
    _bare_steps.save_ready(conn, STORAGE, report_id, run_id, pdf)
    conn.commit()
