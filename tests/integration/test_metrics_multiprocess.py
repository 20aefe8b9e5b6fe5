"""Counters from several processes add up exactly: two worker processes, one /metrics."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from reportsvc import metrics
from tests.conftest import wait_for
from tests.integration.test_metrics import scrape, value

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import sys, threading
    from reportsvc import create_app, metrics
    from reportsvc.state import lifecycle
    from reportsvc.config import load_settings

    app = create_app(load_settings())
    n, threads = int(sys.argv[1]), int(sys.argv[2])

    def work():
        with app.app_context():
            for _ in range(n):
                with metrics.job_batch():   # as a worker thread does around each job
                    lifecycle.create(report_type="operations", title=None, params={}, notify_email=None,
                                     requested_by=None)
                    metrics.inc("emails_sent_total")

    ts = [threading.Thread(target=work) for _ in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]
""")


def test_two_processes_sum_exactly(client, base_settings, engines):
    env = {**os.environ, "DATABASE_URL": engines.database_url, "REDIS_URL": engines.redis_url,
           "STORAGE_DIR": str(base_settings.storage_dir), "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, "15", "4"], cwd=ROOT, env=env) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    samples = scrape(client)
    assert value(samples, "reportsvc_reports_created_total", report_type="operations") == 2 * 15 * 4
    assert value(samples, "reportsvc_emails_sent_total") == 2 * 15 * 4


def test_two_dramatiq_worker_processes_sum_exactly(client, base_settings, engines):
    """Real `dramatiq reportsvc.tasks` processes (2 x 2 threads) drain reports; completions add up."""
    ids = [client.post("/reports").get_json()["id"] for _ in range(12)]
    env = {**os.environ, "DATABASE_URL": engines.database_url, "REDIS_URL": engines.redis_url,
           "STORAGE_DIR": str(base_settings.storage_dir), "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-m", "dramatiq", "reportsvc.tasks", "-p", "2", "-t", "2"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        def all_completed():
            samples = scrape(client)
            done = value(samples, "reportsvc_reports_completed_total", report_type="operations") >= len(ids)
            return samples if done else None

        samples = wait_for(all_completed, timeout=90, interval=0.5)
        statuses = {client.get(f"/reports/{i}/status").get_json()["status"] for i in ids}
        assert statuses == {"READY"}
        assert value(samples, "reportsvc_reports_completed_total", report_type="operations") == len(ids)
        assert value(samples, "reportsvc_report_attempts_total", report_type="operations") == len(ids)
        assert value(samples, "reportsvc_report_duration_seconds_count", report_type="operations",
                     outcome="ready") == len(ids)
        assert wait_for(lambda: value(scrape(client), "reportsvc_workers_alive") == 2, timeout=15)
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(timeout=30)


def test_web_counts_reach_redis_without_a_scrape(client, redis_client):
    """Outside a job, counts collect in the process buffer and the flusher thread pushes them."""
    for _ in range(3):
        assert client.post("/reports").status_code == 202
    field = metrics.field_name("reports_created_total", {"report_type": "operations"})
    assert wait_for(lambda: int(redis_client.hget(metrics.COUNTERS_KEY, field) or 0) == 3,
                    timeout=metrics.FLUSH_SECONDS * 5)


EXITING_CHILD = textwrap.dedent("""
    from reportsvc import create_app, metrics
    from reportsvc.config import load_settings

    create_app(load_settings())
    for _ in range(5):
        metrics.inc("emails_sent_total")   # outside any job: buffered
    # exits at once, long before the flusher's first tick: atexit pushes the buffer
""")


def test_a_process_that_exits_pushes_what_it_buffered(client, base_settings, engines):
    env = {**os.environ, "DATABASE_URL": engines.database_url, "REDIS_URL": engines.redis_url,
           "STORAGE_DIR": str(base_settings.storage_dir), "PYTHONPATH": str(ROOT)}
    assert subprocess.run([sys.executable, "-c", EXITING_CHILD], cwd=ROOT, env=env, timeout=120).returncode == 0
    assert value(scrape(client), "reportsvc_emails_sent_total") == 5
