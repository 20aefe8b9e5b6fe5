"""Scrape time: the collector behind ``/metrics``. Counters are read from the Redis hash on every
scrape (histogram buckets, stored non-cumulative, are made cumulative here); gauges are computed from
O(1) reads and cached for ``GAUGE_TTL`` seconds per process."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from reportsvc.metrics.buffer import flush
from reportsvc.metrics.samples import sample_depths, workers_alive
from reportsvc.metrics.series import (
    COUNTERS,
    COUNTERS_KEY,
    HISTOGRAMS,
    LABELS,
    PREFIX,
    TYPED,
    le_label,
    parse_field,
)

log = logging.getLogger("reportsvc.metrics")

GAUGE_TTL = 2.0


class _Cache:
    def __init__(self) -> None:
        self.at = 0.0
        self.value: list[Metric] = []
        self.lock = threading.Lock()


_gauge_cache = _Cache()


def _counter_families(raw: dict[bytes, bytes]) -> list[Metric]:
    counters: dict[str, CounterMetricFamily] = {}
    label_names_of: dict[str, list[str]] = {}
    for name, help_text in COUNTERS.items():
        base = name[: -len("_total")]
        label_names_of[name] = LABELS.get(name) or (["report_type"] if name in TYPED else [])
        counters[name] = CounterMetricFamily(f"{PREFIX}_{base}", help_text, labels=label_names_of[name])
    hist: dict[str, dict[tuple[tuple[str, str], ...], dict[str, Any]]] = {h: {} for h in HISTOGRAMS}
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for key_b, val_b in raw.items():
        name, series_labels = parse_field(key_b.decode())
        value = float(val_b)
        if name in counters:
            label_values = [series_labels.get(k, "") for k in label_names_of[name]]
            counters[name].add_metric(label_values, value)
            seen.add((name, tuple(label_values)))
            continue
        for h in HISTOGRAMS:
            if name.startswith(h + "_"):
                suffix = name[len(h) + 1:]
                le = series_labels.pop("le", None)
                series = hist[h].setdefault(tuple(sorted(series_labels.items())),
                                            {"buckets": {}, "sum": 0.0, "count": 0.0})
                if suffix == "bucket" and le is not None:
                    series["buckets"][le] = value
                elif suffix == "sum":
                    series["sum"] = value
                elif suffix == "count":
                    series["count"] = value
    _zero_samples(counters, label_names_of, seen)
    out: list[Metric] = list(counters.values())
    for h, (help_text, bounds) in HISTOGRAMS.items():
        hist_labels = sorted({k for key in hist[h] for k, _ in key})
        hfam = HistogramMetricFamily(f"{PREFIX}_{h}", help_text, labels=hist_labels)
        for key, series in hist[h].items():
            found = dict(key)
            running = 0.0
            buckets = []
            for b in bounds:
                running += series["buckets"].get(le_label(b), 0.0)
                buckets.append((le_label(b), running))
            hfam.add_metric([found.get(k, "") for k in hist_labels], buckets, series["sum"])
        out.append(hfam)
    return out


def _zero_samples(counters: dict[str, CounterMetricFamily], label_names_of: dict[str, list[str]],
                  seen: set[tuple[str, tuple[str, ...]]]) -> None:
    # A counter never incremented still gets a 0 sample (for each report type, when typed): an alert on
    # rate() or increase() needs the series to exist before the first event, not only after it.
    from reportsvc import reports

    for name, family in counters.items():
        labels = label_names_of[name]
        if labels == []:
            candidates: list[tuple[str, ...]] = [()]
        elif labels == ["report_type"]:
            candidates = [(rt,) for rt in reports.names()]
        else:
            continue
        for values in candidates:
            if (name, values) not in seen:
                family.add_metric(list(values), 0.0)


def _paused_family(client: redis.Redis, queues: list[str]) -> Metric:
    """reportsvc_queue_paused{queue}: 1 while the queue is paused (the Redis mirror of queue_pauses)."""
    from reportsvc.queues.pauses import read_mirror

    paused = read_mirror(client) or {}
    family = GaugeMetricFamily(f"{PREFIX}_queue_paused", "1 while the queue is paused (no worker starts its messages).",
                               labels=["queue"])
    for queue in dict.fromkeys([*queues, *paused]):
        family.add_metric([queue], 1.0 if queue in paused else 0.0)
    return family


def _gauge_families() -> list[Metric]:
    from sqlalchemy import text

    from reportsvc.extensions import db
    from reportsvc.names import QUEUES, SCHEDULER_BEATS_KEY
    from reportsvc.queues.stats import all_queue_stats
    from reportsvc.redis_client import get_redis

    out: list[Metric] = []
    client = get_redis()
    try:
        stats = all_queue_stats(client, list(QUEUES))
        sample_depths(client, list(QUEUES))
    except redis.RedisError as exc:
        log.warning("metrics: queue stats unavailable: %s", exc)
        stats = []
    per_state = GaugeMetricFamily(f"{PREFIX}_queue_messages", "Messages per queue and state (Redis, O(1)).",
                                  labels=["queue", "state"])
    oldest = GaugeMetricFamily(f"{PREFIX}_queue_oldest_waiting_age_seconds",
                               "Age of the message at the head of the waiting list (0 when empty).", labels=["queue"])
    for s in stats:
        for state in ("waiting", "delayed", "held", "dead"):
            per_state.add_metric([s.queue, state], getattr(s, state))
        oldest.add_metric([s.queue], s.next_age_s or 0.0)
    out += [per_state, oldest]
    with contextlib.suppress(redis.RedisError):
        out.append(_paused_family(client, [s.queue for s in stats]))
    with contextlib.suppress(redis.RedisError):
        out.append(GaugeMetricFamily(f"{PREFIX}_workers_alive",
                                     "Worker processes that beat within REPORT_LOCK_SECONDS (GET /workers' alive).",
                                     value=workers_alive(client)))
    with contextlib.suppress(redis.RedisError):
        newest: Any = client.zrevrange(SCHEDULER_BEATS_KEY, 0, 0, withscores=True)
        out.append(GaugeMetricFamily(f"{PREFIX}_scheduler_last_seen_timestamp_seconds",
                                     "When a scheduler last evaluated the alert rules (Unix time; 0: never).",
                                     value=newest[0][1] / 1000 if newest else 0.0))
    try:
        row = db.session.execute(text(
            "SELECT (SELECT count(*) FROM report_requests WHERE status = 'PENDING'),"
            " (SELECT count(*) FROM report_requests WHERE status = 'RUNNING' AND heartbeat_at IS NOT NULL),"
            " (SELECT extract(epoch FROM now() - min(created_at)) FROM report_requests WHERE status = 'PENDING'),"
            # Before the first ANALYZE reltuples is -1 (or 0): the statistics' live-tuple count fills in, as for
            # the console's counts (state/queries.py).
            " (SELECT GREATEST(c.reltuples, COALESCE(s.n_live_tup, 0), 0) FROM pg_class c"
            "  LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = 'report_requests'::regclass)"
        )).one()
        db.session.rollback()
    except Exception as exc:
        db.session.rollback()
        log.warning("metrics: database gauges unavailable: %s", exc)
        row = None
    if row is not None:
        live = GaugeMetricFamily(f"{PREFIX}_reports", "Reports in a live status now (PENDING, RUNNING).",
                                 labels=["status"])
        live.add_metric(["PENDING"], float(row[0]))
        live.add_metric(["RUNNING"], float(row[1]))
        out.append(live)
        out.append(GaugeMetricFamily(f"{PREFIX}_oldest_pending_age_seconds", "Age of the oldest PENDING report.",
                                     value=float(row[2] or 0.0)))
        out.append(GaugeMetricFamily(f"{PREFIX}_reports_rows_estimate",
                                     "Estimate of rows in report_requests (planner's, else the statistics' live rows).",
                                     value=max(0.0, float(row[3] or 0.0))))
    return out


class ReportsvcCollector:
    """Collects on scrape: counters from Redis each time, gauges through a GAUGE_TTL cache."""

    def collect(self) -> Iterable[Metric]:
        """Every reportsvc metric family, this process's buffered counts pushed first."""
        from reportsvc.redis_client import get_redis

        flush()  # this process's own counts first (the others push theirs within FLUSH_SECONDS)
        try:
            raw: Any = get_redis().hgetall(COUNTERS_KEY)
        except redis.RedisError as exc:
            log.warning("metrics: counters unavailable: %s", exc)
            raw = {}
        yield from _counter_families(raw)
        cache = _gauge_cache
        with cache.lock:
            if time.monotonic() - cache.at > GAUGE_TTL:
                cache.value = _gauge_families()
                cache.at = time.monotonic()
            yield from cache.value


REGISTRY = CollectorRegistry(auto_describe=False)
REGISTRY.register(ReportsvcCollector())  # type: ignore[arg-type]


def render_latest() -> bytes:
    """The Prometheus text exposition of every reportsvc metric (needs an app context)."""
    return generate_latest(REGISTRY)


def reset_cache() -> None:
    """Forget cached gauges (tests)."""
    _gauge_cache.at = 0.0
