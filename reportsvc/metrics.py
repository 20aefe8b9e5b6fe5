"""Prometheus metrics: counters pushed through Redis, gauges computed on scrape.

Why Redis and not prometheus-client's multiprocess mode
--------------------------------------------------------
gunicorn forks several web processes and `dramatiq` forks several worker processes, and DESIGN §1 runs
workers and schedulers on *many hosts*. Multiprocess mode sums per-process mmap files in one
``PROMETHEUS_MULTIPROC_DIR``: it only adds up processes on the same host, needs the directory set
before the first import in every process, wiped on deploy and cleaned when a pid dies, and a scrape
of one web host would still miss every other host's workers. Pushing through Redis has none of that:
every process (web, worker, scheduler, CLI; any host) adds to one Redis hash with ``HINCRBY``, which is
atomic, so the counters a scrape reads are exact sums across every process that ever ran, survive
process restarts (a killed worker loses nothing it already pushed), and any web process can serve
``/metrics``. Cost: one pipelined round trip per job in a worker (a whole job is one batch, about
0.1 ms against a ~25 ms render) and one per second per process elsewhere (web requests collect into a
per-process buffer a daemon thread pushes; see ``FLUSH_SECONDS``). Redis is already a hard dependency.

Where the numbers come from
---------------------------
* **Report counters** are derived from the timeline rows the lifecycle module writes
  (``report_events``): a SQLAlchemy session hook notes every event INSERT and counts it only when the
  transaction *commits* (a rolled-back transition counts nothing), so the counters agree with the
  database in every process without any call site having to remember to count.
* **Histograms**: report duration (claim to READY / failed attempt, timed in the worker that ran it)
  and queue wait (enqueue or retry due time to start, from the message; see
  ``reportsvc.metrics_middleware``). Buckets are stored non-cumulative in the hash and made
  cumulative at scrape.
* **Gauges** are computed on scrape from O(1) reads and cached for ``GAUGE_TTL`` seconds per process:
  queue counters (one read-only Lua call, ``queues.stats.all_queue_stats``), workers alive (``ZCOUNT``
  of a ZSET the worker middleware beats into), reports PENDING/RUNNING (their partial indexes: bounded
  by live work, not by history), the oldest PENDING age (``min(created_at)`` on the partial index) and
  the table's row estimate (``pg_class.reltuples``). Terminal totals are the ``*_total`` counters, so
  no scrape ever counts a million finished rows.

The counters hash holds one field per series (a few dozen), so the scrape reads it whole.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

log = logging.getLogger("reportsvc.metrics")

PREFIX = "reportsvc"
COUNTERS_KEY = "reportsvc:metrics:counters"
WORKERS_KEY = "reportsvc:metrics:workers"
DEPTHS_KEY = "reportsvc:metrics:depths"
DEPTHS_GATE_KEY = "reportsvc:metrics:depths:gate"
#: One queue-depth sample per this many seconds at most (whoever samples first wins the gate).
DEPTH_SAMPLE_SECONDS = 10
#: Samples kept: one hour at one per 10 s (LTRIM keeps the list capped).
DEPTH_SAMPLES_KEPT = 360
GAUGE_TTL = 2.0
WORKER_BEAT_SECONDS = 5.0
WORKER_DEAD_AFTER = 15.0

DURATION_BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, math.inf)
WAIT_BUCKETS: tuple[float, ...] = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, math.inf)

# name -> help, for every counter (series appear once they have moved; known ones are also pre-declared).
COUNTERS: dict[str, str] = {
    "reports_created_total": "Reports created (PENDING), by type.",
    "reports_completed_total": "Reports that became READY, by type.",
    "reports_failed_total": "Reports that became FAILED (retries exhausted or stalled too often), by type.",
    "reports_cancelled_total": "Reports cancelled while PENDING, by type.",
    "report_attempts_total": "Attempts started (claims), by type.",
    "report_attempts_failed_total": "Attempts that failed (retried or final), by type.",
    "reports_retried_total": "Manual retries and dead-letter requeues of FAILED reports, by type.",
    "report_stalls_total": "Claims released by the stall sweep (heartbeat went stale).",
    "report_requeues_total": "Messages re-sent by the stall sweep or the orphan reconciler.",
    "emails_sent_total": "Report-ready emails sent.",
    "emails_failed_total": "Report-ready email attempts that failed.",
    "emails_skipped_total": "Report-ready emails skipped (no SMTP server configured).",
    "enqueue_failures_total": "Messages that could not be sent (the reconciler delivers them later).",
}
HISTOGRAMS: dict[str, tuple[str, tuple[float, ...]]] = {
    "report_duration_seconds": ("Run time of one attempt, claim to READY or failure, by outcome.",
                                DURATION_BUCKETS),
    "report_queue_wait_seconds": ("Time a generate message waited (enqueued or due, to started).", WAIT_BUCKETS),
}
# report_events.kind -> counter, for kinds that always count; status-dependent ones are in _counters_for.
_KIND_COUNTERS = {
    "created": "reports_created_total",
    "completed": "reports_completed_total",
    "cancelled": "reports_cancelled_total",
    "claimed": "report_attempts_total",
    "attempt_failed": "report_attempts_failed_total",
    "retried": "reports_retried_total",
    "stalled": "report_stalls_total",
    "requeued": "report_requeues_total",
    "email_sent": "emails_sent_total",
    "email_failed": "emails_failed_total",
    "email_skipped": "emails_skipped_total",
    "enqueue_failed": "enqueue_failures_total",
}
_TYPED = {"reports_created_total", "reports_completed_total", "reports_failed_total", "reports_cancelled_total",
          "report_attempts_total", "report_attempts_failed_total", "reports_retried_total"}


# --------------------------------------------------------------------------- series encoding


def _clean(value: object) -> str:
    return str(value).replace("|", "_").replace(",", "_").replace("=", "_")[:64]


def field_name(name: str, labels: dict[str, object] | None = None) -> str:
    """Hash field of one series: ``name|k=v,k=v`` (labels sorted)."""
    if not labels:
        return name
    return name + "|" + ",".join(f"{k}={_clean(v)}" for k, v in sorted(labels.items()))


def parse_field(raw: str) -> tuple[str, dict[str, str]]:
    """Inverse of field_name."""
    name, _, rest = raw.partition("|")
    labels: dict[str, str] = {}
    if rest:
        for pair in rest.split(","):
            k, _, v = pair.partition("=")
            labels[k] = v
    return name, labels


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


# --------------------------------------------------------------------------- pushing


@dataclass
class Batch:
    """Increments not yet pushed to Redis."""

    ints: dict[str, int]
    floats: dict[str, float]

    def __init__(self) -> None:
        self.ints = {}
        self.floats = {}

    def inc(self, name: str, labels: dict[str, object] | None = None, amount: int = 1) -> None:
        key = field_name(name, labels)
        self.ints[key] = self.ints.get(key, 0) + amount

    def observe(self, name: str, value: float, labels: dict[str, object] | None = None) -> None:
        buckets = HISTOGRAMS[name][1]
        labels = dict(labels or {})
        bound = next(b for b in buckets if value <= b)
        self.inc(name + "_bucket", {**labels, "le": _le(bound)})
        self.inc(name + "_count", labels)
        key = field_name(name + "_sum", labels)
        self.floats[key] = self.floats.get(key, 0.0) + float(value)

    def merge(self, other: Batch) -> None:
        """Add another batch's increments to this one."""
        for k, n in other.ints.items():
            self.ints[k] = self.ints.get(k, 0) + n
        for k, x in other.floats.items():
            self.floats[k] = self.floats.get(k, 0.0) + x

    def __bool__(self) -> bool:
        return bool(self.ints or self.floats)


_local = threading.local()
_redis_url: str | None = None


def configure(redis_url: str) -> None:
    """Where counters go (create_app's Redis)."""
    global _redis_url
    _redis_url = redis_url


def _client() -> redis.Redis | None:
    if _redis_url is None:
        return None
    from .redis_client import get_redis

    return get_redis(_redis_url)


def push(batch: Batch, client: redis.Redis | None = None) -> None:
    """Add a batch to the Redis counters in one round trip; a Redis outage loses the batch, never the job."""
    if not batch:
        return
    client = client or _client()
    if client is None:
        return
    try:
        pipe = client.pipeline(transaction=False)
        for key, n in batch.ints.items():
            pipe.hincrby(COUNTERS_KEY, key, n)
        for key, x in batch.floats.items():
            pipe.hincrbyfloat(COUNTERS_KEY, key, x)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("metrics not pushed (Redis: %s)", exc)


def inc(name: str, labels: dict[str, object] | None = None, amount: int = 1) -> None:
    """Count something now (buffered while a job runs, pushed at its end)."""
    batch = Batch()
    batch.inc(name, labels, amount)
    _emit(batch)


def observe(name: str, value: float, labels: dict[str, object] | None = None) -> None:
    """Observe a histogram value now (buffered while a job runs)."""
    batch = Batch()
    batch.observe(name, value, labels)
    _emit(batch)


def _emit(batch: Batch) -> None:
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


def end_job() -> None:
    """Push what the job counted (middleware: after_process_message / after_skip_message)."""
    batch = getattr(_local, "job_batch", None)
    _local.job_batch = None
    if batch:
        push(batch)


# --------------------------------------------------------------------------- counting committed events

_TYPE_CACHE_SIZE = 10_000
_types: OrderedDict[uuid.UUID, str] = OrderedDict()
_types_lock = threading.Lock()
_claims: dict[uuid.UUID, float] = {}  # report id -> monotonic time its claim committed in this process


def _remember_type(report_id: uuid.UUID, report_type: str) -> None:
    with _types_lock:
        _types[report_id] = report_type
        _types.move_to_end(report_id)
        while len(_types) > _TYPE_CACHE_SIZE:
            _types.popitem(last=False)


def remember_type(report_id: uuid.UUID, report_type: str) -> None:
    """Tell the counters a report's type (the lifecycle knows it from a RETURNING row), sparing the lookup
    `_before_commit` would otherwise make for an event of a report this process has not seen yet."""
    _remember_type(report_id, report_type)


def _known_type(report_id: uuid.UUID) -> str | None:
    with _types_lock:
        return _types.get(report_id)


@dataclass
class _Noted:
    report_id: uuid.UUID
    kind: str
    to_status: str | None
    detail: dict[str, Any]


def _value(values: Any, name: str) -> Any:
    bind = values.get(name)
    return getattr(bind, "value", bind)


def _on_execute(state: Any) -> None:
    """do_orm_execute: note INSERTs into report_events (counted only if the transaction commits)."""
    if not state.is_insert:
        return
    stmt = state.statement
    table = getattr(stmt, "table", None)
    if getattr(table, "name", None) != "report_events":
        return
    values = getattr(stmt, "_values", None)
    if not values:
        return
    report_id, kind = _value(values, "report_id"), _value(values, "kind")
    if report_id is None or kind is None:
        return
    noted = _Noted(report_id, str(kind), _value(values, "to_status"), dict(_value(values, "detail") or {}))
    state.session.info.setdefault("reportsvc.metrics", []).append(noted)


def note_event(session: Any, report_id: uuid.UUID, kind: str, to_status: str | None,
               detail: dict[str, Any] | None = None) -> None:
    """Note an event the lifecycle inserted with a prebuilt statement (one `_on_execute` cannot read).

    Same bookkeeping as `_on_execute`: counted in `_after_commit` only if the transaction commits.
    """
    noted = _Noted(report_id, kind, to_status, detail if detail is not None else {})
    session.info.setdefault("reportsvc.metrics", []).append(noted)


def _before_commit(session: Any) -> None:
    """Resolve report types of the noted events (one indexed lookup for those not cached)."""
    noted: list[_Noted] = session.info.get("reportsvc.metrics") or []
    if not noted:
        return
    missing = set()
    for n in noted:
        rtype = n.detail.get("report_type") if n.kind == "created" else None
        if isinstance(rtype, str):
            _remember_type(n.report_id, rtype)
        elif _known_type(n.report_id) is None:
            missing.add(n.report_id)
    if missing:
        from sqlalchemy import text

        try:
            rows = session.execute(
                text("SELECT id, report_type FROM report_requests WHERE id = ANY(:ids)"), {"ids": list(missing)}
            ).all()
        except Exception as exc:  # a PK lookup; if even that fails, the commit that follows fails anyway
            log.warning("metrics: report type lookup failed: %s", exc)
            rows = []
        for rid, rtype in rows:
            _remember_type(rid, rtype)


def _after_commit(session: Any) -> None:
    noted: list[_Noted] = session.info.pop("reportsvc.metrics", None) or []
    if noted:
        _count(noted)


def count_committed(report_id: uuid.UUID, kind: str, to_status: str | None, detail: dict[str, Any]) -> None:
    """Count an event a statement outside the session already committed (autocommit)."""
    rtype = detail.get("report_type") if kind == "created" else None
    if isinstance(rtype, str):
        _remember_type(report_id, rtype)
    _count([_Noted(report_id, kind, to_status, detail)])


def _count(noted: list[_Noted]) -> None:
    batch = Batch()
    now = time.monotonic()
    for n in noted:
        rtype = _known_type(n.report_id) or "unknown"
        for name in _counters_for(n):
            batch.inc(name, {"report_type": rtype} if name in _TYPED else None)
        if n.kind == "claimed":
            if len(_claims) > _TYPE_CACHE_SIZE:  # claims lost without an event here: forget the oldest
                for stale in list(_claims)[: _TYPE_CACHE_SIZE // 10]:
                    _claims.pop(stale, None)
            _claims[n.report_id] = now
        elif n.kind in ("completed", "attempt_failed"):
            began = _claims.pop(n.report_id, None)
            if began is not None:
                outcome = "ready" if n.kind == "completed" else "failed"
                batch.observe("report_duration_seconds", now - began, {"report_type": rtype, "outcome": outcome})
        elif n.kind == "stalled":
            _claims.pop(n.report_id, None)
    _emit(batch)


def _counters_for(n: _Noted) -> list[str]:
    names = []
    name = _KIND_COUNTERS.get(n.kind)
    if name:
        names.append(name)
    if n.to_status == "FAILED" and n.kind in ("attempt_failed", "stalled"):
        names.append("reports_failed_total")
    return names


def _after_rollback(session: Any) -> None:
    session.info.pop("reportsvc.metrics", None)


_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Hook the session events once per process (create_app calls it through the /metrics blueprint)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        event.listen(Session, "do_orm_execute", _on_execute)
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
        _installed = True


# --------------------------------------------------------------------------- workers alive + depth samples


def worker_name() -> str:
    """host:pid of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def beat_worker(client: redis.Redis, name: str | None = None) -> None:
    """Mark this worker process alive now (and drop entries dead for an hour)."""
    now = time.time()
    pipe = client.pipeline(transaction=False)
    pipe.zadd(WORKERS_KEY, {name or worker_name(): now})
    pipe.zremrangebyscore(WORKERS_KEY, 0, now - 3600)
    pipe.execute()


def forget_worker(client: redis.Redis, name: str | None = None) -> None:
    """This worker process is shutting down."""
    client.zrem(WORKERS_KEY, name or worker_name())


def workers_alive(client: redis.Redis, now: float | None = None) -> int:
    """Worker processes that beat within WORKER_DEAD_AFTER seconds (ZCOUNT: O(log n))."""
    now = time.time() if now is None else now
    return int(client.zcount(WORKERS_KEY, now - WORKER_DEAD_AFTER, "+inf"))


def sample_depths(client: redis.Redis, queues: Sequence[str], *, force: bool = False) -> bool:
    """Append one queue-depth sample to the capped list if nobody did in the last DEPTH_SAMPLE_SECONDS."""
    import json

    from .queues.stats import all_queue_stats

    if not force and not client.set(DEPTHS_GATE_KEY, "1", nx=True, ex=DEPTH_SAMPLE_SECONDS):
        return False
    stats = all_queue_stats(client, queues)
    sample = {"t": round(time.time(), 1),
              "q": {s.queue: [s.waiting, s.delayed, s.held, s.dead] for s in stats}}
    pipe = client.pipeline(transaction=False)
    pipe.lpush(DEPTHS_KEY, json.dumps(sample, separators=(",", ":")))
    pipe.ltrim(DEPTHS_KEY, 0, DEPTH_SAMPLES_KEPT - 1)
    pipe.execute()
    return True


def depth_samples(client: redis.Redis, since: float | None = None) -> list[dict[str, Any]]:
    """Samples oldest first (LRANGE of a list capped at DEPTH_SAMPLES_KEPT)."""
    import json

    out = []
    for raw in client.lrange(DEPTHS_KEY, 0, DEPTH_SAMPLES_KEPT - 1):
        with contextlib.suppress(ValueError):
            sample = json.loads(raw)
            if since is None or sample.get("t", 0) >= since:
                out.append(sample)
    out.reverse()
    return out


# --------------------------------------------------------------------------- scrape


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
        label_names_of[name] = ["report_type"] if name in _TYPED else []
        counters[name] = CounterMetricFamily(f"{PREFIX}_{base}", help_text, labels=label_names_of[name])
    hist: dict[str, dict[tuple[tuple[str, str], ...], dict[str, Any]]] = {h: {} for h in HISTOGRAMS}
    for key_b, val_b in raw.items():
        name, series_labels = parse_field(key_b.decode())
        value = float(val_b)
        if name in counters:
            counters[name].add_metric([series_labels.get(k, "") for k in label_names_of[name]], value)
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
    out: list[Metric] = list(counters.values())
    for h, (help_text, bounds) in HISTOGRAMS.items():
        hist_labels = sorted({k for key in hist[h] for k, _ in key})
        hfam = HistogramMetricFamily(f"{PREFIX}_{h}", help_text, labels=hist_labels)
        for key, series in hist[h].items():
            found = dict(key)
            running = 0.0
            buckets = []
            for b in bounds:
                running += series["buckets"].get(_le(b), 0.0)
                buckets.append((_le(b), running))
            hfam.add_metric([found.get(k, "") for k in hist_labels], buckets, series["sum"])
        out.append(hfam)
    return out


def _gauge_families() -> list[Metric]:
    from sqlalchemy import text

    from .broker import QUEUES
    from .extensions import db
    from .queues.stats import all_queue_stats
    from .redis_client import get_redis

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
        out.append(GaugeMetricFamily(f"{PREFIX}_workers_alive", "Worker processes that beat in the last 15 s.",
                                     value=workers_alive(client)))
    try:
        row = db.session.execute(text(
            "SELECT (SELECT count(*) FROM report_requests WHERE status = 'PENDING'),"
            " (SELECT count(*) FROM report_requests WHERE status = 'RUNNING' AND heartbeat_at IS NOT NULL),"
            " (SELECT extract(epoch FROM now() - min(created_at)) FROM report_requests WHERE status = 'PENDING'),"
            " (SELECT reltuples FROM pg_class WHERE oid = 'report_requests'::regclass)"
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
                                     "Planner estimate of rows in report_requests (pg_class.reltuples).",
                                     value=max(0.0, float(row[3] or 0.0))))
    return out


class ReportsvcCollector:
    """Collects on scrape: counters from Redis each time, gauges through a GAUGE_TTL cache."""

    def collect(self) -> Iterable[Metric]:
        from .redis_client import get_redis

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
