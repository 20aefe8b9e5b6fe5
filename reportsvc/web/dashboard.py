"""Console dashboard: throughput, durations, failure rate and queue depths, drawn server-side as SVG.

Cheap at a million rows: every query is a range scan of the last hour or day on an index
(`ix_report_requests_created_id` for created, `ix_report_requests_finished_at` for finished), so its
cost follows the recent traffic, not the table. The per-hour series caches its closed hours (they no
longer change, apart from a retried report re-finishing later, which the next hour rollover fixes) and
recomputes only the current hour, and the whole panel is cached for `PANEL_TTL` seconds per process so
many open dashboards polling every few seconds cost one computation.

Queue depths over time come from the capped Redis list `reportsvc.metrics` keeps (one sample per
10 s at most, taken by worker beats, `/metrics` scrapes and this page).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, render_template, request
from markupsafe import Markup
from sqlalchemy import text

from reportsvc import metrics
from reportsvc.extensions import db
from reportsvc.names import QUEUES
from reportsvc.web.charts import legend, line_chart

bp = Blueprint("console_dashboard", __name__, url_prefix="/console")

PANEL_TTL = 2.0
REFRESH_SECONDS = 5
CLOSED_HOURS_TTL = 300.0



@dataclass
class Panel:
    """Everything the dashboard shows, computed once per PANEL_TTL."""

    now: datetime
    minutes: list[datetime]
    per_minute: dict[str, list[int]]
    hours: list[datetime]
    per_hour: dict[str, list[int]]
    p50: float | None
    p95: float | None
    finished_hour: int
    failed_hour: int
    created_hour: int
    queues: list[Any] = field(default_factory=list)
    depth_times: list[float] = field(default_factory=list)
    depths: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    computed_ms: float = 0.0

    @property
    def failure_rate(self) -> float | None:
        """Failed / (completed + failed) over the last hour."""
        return None if not self.finished_hour else self.failed_hour / self.finished_hour


# --------------------------------------------------------------------------- queries

_MINUTE_CREATED = text(
    "SELECT date_trunc('minute', created_at) AS b, count(*) FROM report_requests"
    " WHERE created_at >= :since AND created_at < :until GROUP BY b"
)
_MINUTE_FINISHED = text(
    "SELECT date_trunc('minute', finished_at) AS b, count(*) FILTER (WHERE status = 'READY'),"
    " count(*) FILTER (WHERE status = 'FAILED') FROM report_requests"
    " WHERE finished_at >= :since AND finished_at < :until GROUP BY b"
)
_HOUR_CREATED = text(str(_MINUTE_CREATED).replace("'minute'", "'hour'"))
_HOUR_FINISHED = text(str(_MINUTE_FINISHED).replace("'minute'", "'hour'"))
_DURATIONS = text(
    "SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - started_at))"
    " FROM report_requests WHERE finished_at >= :since AND status = 'READY' AND started_at IS NOT NULL"
)
QUERIES = {"minute_created": _MINUTE_CREATED, "minute_finished": _MINUTE_FINISHED,
           "hour_created": _HOUR_CREATED, "hour_finished": _HOUR_FINISHED, "durations": _DURATIONS}


def _series(session: Any, created_sql: Any, finished_sql: Any, since: datetime, until: datetime
            ) -> dict[datetime, list[int]]:
    """bucket start -> [created, completed, failed] over [since, until)."""
    out: dict[datetime, list[int]] = {}
    for b, n in session.execute(created_sql, {"since": since, "until": until}):
        out.setdefault(b, [0, 0, 0])[0] = int(n)
    for b, ok, bad in session.execute(finished_sql, {"since": since, "until": until}):
        row = out.setdefault(b, [0, 0, 0])
        row[1], row[2] = int(ok), int(bad)
    return out


_closed_lock = threading.Lock()
_closed: dict[str, Any] = {"key": None, "at": 0.0, "value": {}}


def _closed_hours(session: Any, since: datetime, until: datetime) -> dict[datetime, list[int]]:
    """The day's closed hours, cached until the hour rolls over (or CLOSED_HOURS_TTL passes)."""
    key = (since, until)
    with _closed_lock:
        if _closed["key"] == key and time.monotonic() - _closed["at"] < CLOSED_HOURS_TTL:
            return dict(_closed["value"])
    value = _series(session, _HOUR_CREATED, _HOUR_FINISHED, since, until)
    with _closed_lock:
        _closed.update(key=key, at=time.monotonic(), value=value)
    return dict(value)


def compute_panel(now: datetime | None = None) -> Panel:
    """Run the dashboard's queries (a handful of index range scans) and read the depth samples."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    session = db.session
    minute_end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    minutes = [minute_end - timedelta(minutes=60 - i) for i in range(60)]
    by_minute = _series(session, _MINUTE_CREATED, _MINUTE_FINISHED, minutes[0], minute_end)
    hour_start = now.replace(minute=0, second=0, microsecond=0)
    hours = [hour_start - timedelta(hours=23 - i) for i in range(24)]
    by_hour = _closed_hours(session, hours[0], hour_start)
    by_hour.update(_series(session, _HOUR_CREATED, _HOUR_FINISHED, hour_start, hour_start + timedelta(hours=1)))
    row = session.execute(_DURATIONS, {"since": now - timedelta(hours=1)}).one()
    session.rollback()
    p50 = p95 = None
    if row[0]:
        p50, p95 = (float(v) if v is not None else None for v in row[0])

    def pick(table: dict[datetime, list[int]], keys: list[datetime], i: int) -> list[int]:
        return [table.get(k, [0, 0, 0])[i] for k in keys]

    per_minute = {name: pick(by_minute, minutes, i) for i, name in enumerate(("created", "completed", "failed"))}
    per_hour = {name: pick(by_hour, hours, i) for i, name in enumerate(("created", "completed", "failed"))}
    panel = Panel(
        now=now, minutes=minutes, per_minute=per_minute, hours=hours, per_hour=per_hour, p50=p50, p95=p95,
        finished_hour=sum(per_minute["completed"]) + sum(per_minute["failed"]),
        failed_hour=sum(per_minute["failed"]), created_hour=sum(per_minute["created"]),
    )
    _add_queues(panel)
    panel.computed_ms = (time.perf_counter() - started) * 1000
    return panel


def _add_queues(panel: Panel) -> None:
    from reportsvc.queues.stats import all_queue_stats
    from reportsvc.redis_client import get_redis

    try:
        client = get_redis()
        metrics.sample_depths(client, list(QUEUES))
        panel.queues = all_queue_stats(client, list(QUEUES))
        samples = metrics.depth_samples(client, since=time.time() - 3600)
    except Exception:
        panel.queues, samples = [], []
    panel.depth_times = [float(s["t"]) for s in samples]
    for q in QUEUES:
        panel.depths[q] = {state: [int((s.get("q", {}).get(q) or [0, 0, 0, 0])[i]) for s in samples]
                           for i, state in enumerate(("waiting", "delayed", "held", "dead"))}


_panel_lock = threading.Lock()
_panel_cache: dict[str, Any] = {"at": 0.0, "value": None}


def cached_panel() -> Panel:
    """The panel, recomputed at most every PANEL_TTL seconds in this process."""
    with _panel_lock:
        if _panel_cache["value"] is None or time.monotonic() - _panel_cache["at"] > PANEL_TTL:
            _panel_cache["value"] = compute_panel()
            _panel_cache["at"] = time.monotonic()
        value: Panel = _panel_cache["value"]
        return value


def reset_cache() -> None:
    """Forget cached results (tests)."""
    with _panel_lock:
        _panel_cache["value"] = None
    with _closed_lock:
        _closed["key"] = None


# --------------------------------------------------------------------------- charts

#: Queue depth samples come every 10 s at most (while anything samples); further apart than this is a gap.
DEPTH_GAP_SECONDS = 60.0


def charts(panel: Panel) -> dict[str, Markup]:
    """Every chart of the panel as SVG markup, each on a time axis proportional to time."""
    minute_times = [m.timestamp() for m in panel.minutes]
    hour_times = [h.timestamp() for h in panel.hours]
    now = panel.now.timestamp()
    out = {
        "per_minute": line_chart({k: list(map(float, v)) for k, v in panel.per_minute.items()}, minute_times,
                                 start=minute_times[0], end=minute_times[-1], max_gap=120,
                                 title="Reports per minute, last hour"),
        "per_hour": line_chart({k: list(map(float, v)) for k, v in panel.per_hour.items()}, hour_times,
                               start=hour_times[0], end=hour_times[-1], max_gap=7200,
                               title="Reports per hour, last 24 hours"),
    }
    for q, states in panel.depths.items():
        out[f"depth_{q}"] = line_chart({k: list(map(float, v)) for k, v in states.items()}, panel.depth_times,
                                       start=now - 3600, end=now, max_gap=DEPTH_GAP_SECONDS, height=160,
                                       title=f"Queue {q}: messages over time")
    return out


# --------------------------------------------------------------------------- views


def _context() -> dict[str, Any]:
    panel = cached_panel()
    return {"panel": panel, "charts": charts(panel), "legend": legend, "refresh": REFRESH_SECONDS}


@bp.get("/dashboard")
def dashboard() -> str:
    """The full page (the panel inside polls itself)."""
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true":
        return render_template("console/_dashboard_panel.html", **_context())
    return render_template("console/dashboard.html", **_context())


@bp.get("/dashboard/panel")
def dashboard_panel() -> str:
    """The polled fragment."""
    return render_template("console/_dashboard_panel.html", **_context())
