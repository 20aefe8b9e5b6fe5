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
  ``reportsvc.worker.metrics_middleware``). Buckets are stored non-cumulative in the hash and made
  cumulative at scrape.
* **Gauges** are computed on scrape from O(1) reads and cached for ``GAUGE_TTL`` seconds per process:
  queue counters (one read-only Lua call, ``queues.stats.all_queue_stats``), workers alive (``ZCOUNT``
  of a ZSET the worker middleware beats into), reports PENDING/RUNNING (their partial indexes: bounded
  by live work, not by history), the oldest PENDING age (``min(created_at)`` on the partial index) and
  the table's row estimate (``pg_class.reltuples``). Terminal totals are the ``*_total`` counters, so
  no scrape ever counts a million finished rows.

The counters hash holds one field per series (a few dozen), so the scrape reads it whole.

Modules: ``series`` (the catalogue and hash field names), ``push`` (a Batch and its Redis round trip),
``buffer`` (job batches and the per-process buffer with its flusher thread), ``events`` (the session
hooks), ``samples`` (worker beats, depth samples), ``collector`` (scrape). This package re-exports the
public names; module state (the buffer, the caches, ``REGISTRY``) lives only in its own module.
"""

from __future__ import annotations

from reportsvc.metrics.buffer import FLUSH_SECONDS, begin_job, end_job, flush, inc, job_batch, observe
from reportsvc.metrics.collector import GAUGE_TTL, REGISTRY, ReportsvcCollector, render_latest, reset_cache
from reportsvc.metrics.events import count_committed, install, note_event, remember_type
from reportsvc.metrics.push import Batch, configure, push
from reportsvc.metrics.samples import (
    DEPTH_SAMPLE_SECONDS,
    DEPTH_SAMPLES_KEPT,
    DEPTHS_GATE_KEY,
    DEPTHS_KEY,
    WORKER_BEAT_SECONDS,
    WORKERS_KEY,
    beat_worker,
    depth_samples,
    forget_worker,
    sample_depths,
    worker_name,
    workers_alive,
)
from reportsvc.metrics.series import (
    COUNTERS,
    COUNTERS_KEY,
    DURATION_BUCKETS,
    HISTOGRAMS,
    PREFIX,
    WAIT_BUCKETS,
    field_name,
    parse_field,
)

__all__ = [
    "COUNTERS",
    "COUNTERS_KEY",
    "DEPTHS_GATE_KEY",
    "DEPTHS_KEY",
    "DEPTH_SAMPLES_KEPT",
    "DEPTH_SAMPLE_SECONDS",
    "DURATION_BUCKETS",
    "FLUSH_SECONDS",
    "GAUGE_TTL",
    "HISTOGRAMS",
    "PREFIX",
    "REGISTRY",
    "WAIT_BUCKETS",
    "WORKERS_KEY",
    "WORKER_BEAT_SECONDS",
    "Batch",
    "ReportsvcCollector",
    "beat_worker",
    "begin_job",
    "configure",
    "count_committed",
    "depth_samples",
    "end_job",
    "field_name",
    "flush",
    "forget_worker",
    "inc",
    "install",
    "job_batch",
    "note_event",
    "observe",
    "parse_field",
    "push",
    "remember_type",
    "render_latest",
    "reset_cache",
    "sample_depths",
    "worker_name",
    "workers_alive",
]
