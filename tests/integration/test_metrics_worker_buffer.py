"""WORKER_METRICS_BUFFERED: a job's counts go to the worker process's buffer and reach Redis without a scrape."""

from __future__ import annotations

import dataclasses

import pytest

from reportsvc import metrics
from tests.conftest import wait_for, wait_status


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "per-job push"])
def test_a_jobs_counts_reach_redis_without_a_scrape(client, worker, settings, redis_client, buffered):
    from reportsvc.config import get_settings

    settings(hotpath=dataclasses.replace(get_settings().hotpath, worker_metrics_buffered=buffered))
    field = metrics.field_name("reports_completed_total", {"report_type": "operations"})
    before = int(redis_client.hget(metrics.COUNTERS_KEY, field) or 0)
    report_id = client.post("/reports").get_json()["id"]
    wait_status(client, report_id, {"READY"})
    assert wait_for(lambda: int(redis_client.hget(metrics.COUNTERS_KEY, field) or 0) == before + 1,
                    timeout=metrics.FLUSH_SECONDS * 5)
