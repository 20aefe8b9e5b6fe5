"""One definition of a live worker: /metrics' reportsvc_workers_alive and GET /workers both judge by
REPORT_LOCK_SECONDS (not 15 s in one place and the lock in the other)."""

from __future__ import annotations

import time

import pytest

from reportsvc.metrics import collector
from reportsvc.metrics.samples import WORKERS_KEY


@pytest.fixture(autouse=True)
def _fresh_gauges():  # type: ignore[no-untyped-def]
    """Gauges are cached for GAUGE_TTL per process: read them afresh, and leave no cached value to later tests."""
    collector._gauge_cache.at = 0.0
    yield
    collector._gauge_cache.at = 0.0


def _alive_metric(client) -> float:  # type: ignore[no-untyped-def]
    collector._gauge_cache.at = 0.0
    for line in client.get("/metrics").get_data(as_text=True).splitlines():
        if line.startswith("reportsvc_workers_alive "):
            return float(line.split()[1])
    raise AssertionError("no reportsvc_workers_alive sample")


def test_a_worker_silent_for_30_s_is_alive_or_dead_alike_in_metrics_and_workers(app, client, settings, redis_client):
    now = time.time()
    redis_client.zadd(WORKERS_KEY, {"host:4242": now - 30})
    redis_client.zadd("dramatiq:__heartbeats__", {"w-30s": int((now - 30) * 1000)})
    settings(report_lock_seconds=60)
    assert _alive_metric(client) == 1
    assert {w["worker_id"]: w["alive"] for w in client.get("/workers").get_json()["workers"]}["w-30s"] is True
    settings(report_lock_seconds=20)
    assert _alive_metric(client) == 0
    assert {w["worker_id"]: w["alive"] for w in client.get("/workers").get_json()["workers"]}["w-30s"] is False
