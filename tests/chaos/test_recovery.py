"""Recovery paths: fencing, the stall limit, Redis emptied, PostgreSQL down, several schedulers."""

from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import text

from reportsvc.extensions import db
from reportsvc.ops import jobs, sweeper
from reportsvc.redis_client import get_redis
from reportsvc.state import lifecycle
from tests.conftest import wait_for, wait_status

pytestmark = pytest.mark.slow


def _events(client, report_id):
    return client.get(f"/reports/{report_id}").get_json()["events"]


def test_stalled_but_alive_worker_is_fenced_out(app, client, chaos_settings, make_worker, caplog):
    make_worker(threads=2)
    # A 6 s render: the release below must come while the first worker still renders (a loaded machine can
    # spend much of a 3 s render before this test has seen RUNNING).
    report_id = client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 6}}}).get_json()["id"]
    wait_for(lambda: client.get(f"/reports/{report_id}/status").get_json()["status"] == "RUNNING", timeout=20)
    with app.app_context():
        row = db.session.execute(text("SELECT run_id FROM report_requests WHERE id = :i"),
                                 {"i": report_id}).one()
        db.session.rollback()
        # What the sweep does when it decides a worker is lost, while that worker is in fact still rendering.
        assert lifecycle.release_stalled(uuid.UUID(report_id), row.run_id, max_stalled=2, idle_seconds=61) == "PENDING"
        jobs.send_generate(uuid.UUID(report_id))
    final = wait_status(client, report_id, {"READY", "FAILED"}, timeout=30)
    assert final["status"] == "READY"
    kinds = [e["kind"] for e in _events(client, report_id)]
    assert kinds.count("completed") == 1 and kinds.count("claimed") == 2
    wait_for(lambda: "claim lost" in caplog.text, timeout=10)
    from tests.chaos.harness import assert_published_once

    assert_published_once(client, chaos_settings, [report_id])  # one PDF, its checksum on the row, no temp files


def test_report_stalling_past_the_limit_fails_with_the_stall_message(app, client, settings):
    current = settings(report_lock_seconds=1, max_stalled_count=2)
    report_id = uuid.UUID(client.post("/reports").get_json()["id"])
    with app.app_context():
        for stall in range(1, 4):
            claim = lifecycle.claim(report_id, worker="ghost:1", message_id=None)
            assert claim is not None, f"claim {stall}"
            time.sleep(1.2)
            result = sweeper.sweep_stalled(get_redis(), current)
            assert result.examined == 1
    body = client.get(f"/reports/{report_id}").get_json()
    assert body["status"] == "FAILED"
    assert body["error_message"] == "stalled 3 times (worker lost)"
    assert body["stall_count"] == 3


def test_redis_flushed_while_pending_and_running_all_finish(client, chaos_settings, make_worker, sweeper_loop,
                                                            redis_client):
    ids = [client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 1.5}}}).get_json()["id"]
           for _ in range(6)]
    make_worker(threads=2)
    wait_for(lambda: any(client.get(f"/reports/{r}/status").get_json()["status"] == "RUNNING" for r in ids),
             timeout=20)
    redis_client.flushall()
    for rid in ids:
        assert wait_status(client, rid, {"READY", "FAILED"}, timeout=60)["status"] == "READY"
    for rid in ids:
        assert [e["kind"] for e in _events(client, rid)].count("completed") == 1


def test_postgres_down_for_ten_seconds_loses_nothing(engines, client, chaos_settings, make_worker, sweeper_loop):
    if engines.postgres is None:
        pytest.skip("needs the embedded PostgreSQL to stop and start it")
    ids = [client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 2}}}).get_json()["id"]
           for _ in range(4)]
    make_worker(threads=2)
    wait_for(lambda: any(client.get(f"/reports/{r}/status").get_json()["status"] == "RUNNING" for r in ids),
             timeout=20)
    engines.postgres.stop()
    time.sleep(10)
    engines.postgres.start()
    statuses = {rid: wait_status(client, rid, {"READY", "FAILED"}, timeout=90)["status"] for rid in ids}
    assert set(statuses.values()) == {"READY"}, statuses
    for rid in ids:
        assert [e["kind"] for e in _events(client, rid)].count("completed") == 1


def test_two_schedulers_requeue_each_stalled_row_once(app, client, chaos_settings, start_scheduler, redis_client):
    ids = [uuid.UUID(client.post("/reports").get_json()["id"]) for _ in range(50)]
    redis_client.flushall()  # no messages at all: each row needs exactly one new one
    with app.app_context():
        for rid in ids:
            assert lifecycle.claim(rid, worker="gone:1", message_id=None) is not None
        db.session.execute(text("UPDATE report_requests SET heartbeat_at = now() - interval '1 hour'"))
        db.session.commit()
    start_scheduler()
    start_scheduler()

    def all_pending():
        with app.app_context():
            n = db.session.execute(text("SELECT count(*) FROM report_requests WHERE status = 'PENDING'")).scalar()
            db.session.rollback()
            return n == 50

    wait_for(all_pending, timeout=30)
    time.sleep(3)  # several more sweep/reconcile rounds from both schedulers
    with app.app_context():
        counts = db.session.execute(text(
            "SELECT report_id, count(*) FILTER (WHERE kind = 'stalled'), count(*) FILTER (WHERE kind = 'requeued') "
            "FROM report_events GROUP BY report_id")).all()
        db.session.rollback()
    assert len(counts) == 50
    assert all(stalled == 1 and requeued == 1 for _, stalled, requeued in counts), counts
    assert redis_client.llen("dramatiq:reports") == 50


def test_frozen_worker_resumed_after_recovery_never_overwrites_the_published_pdf(app, client, chaos_settings,
                                                                                 start_worker, sweeper_loop):
    import hashlib
    import os
    import signal

    from tests.chaos.harness import running_reports, stored_files, worker_ids

    frozen = start_worker(threads=2)
    # A 6 s render: the worker must be frozen mid-render, after this test saw its claim's first beat.
    report_id = client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 6}}}).get_json()["id"]
    mine = wait_for(lambda: worker_ids(frozen), timeout=30)
    wait_for(lambda: [r for r, w, beat in running_reports(app) if r == report_id and w in mine and beat], timeout=30)
    pids = frozen.children()
    for pid in pids:  # alive but silent: a GC pause, a VM stall, a laptop lid
        os.kill(pid, signal.SIGSTOP)
    try:
        start_worker(threads=2)
        final = wait_status(client, report_id, {"READY", "FAILED"}, timeout=40)
        assert final["status"] == "READY"
        (path,) = (chaos_settings.storage_dir / report_id).glob("*.pdf")  # <report_id>/<run_id>.pdf
        published = path.read_bytes()
        inode = path.stat().st_ino
        body = client.get(f"/reports/{report_id}").get_json()
        assert body["file_sha256"] == hashlib.sha256(published).hexdigest()
        assert body["worker"] not in mine  # the second worker published it
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    # The frozen worker wakes up mid-render under a claim it no longer holds.
    wait_for(lambda: f"Job {report_id} claim lost" in frozen.log_text(), timeout=30)
    time.sleep(1.0)  # anything it might still write would land now
    assert path.read_bytes() == published and path.stat().st_ino == inode  # not rewritten, not replaced
    # nothing else: no temporary file, and no PDF under the frozen run's own key either
    assert stored_files(chaos_settings) == [path.relative_to(chaos_settings.storage_dir).as_posix()]
    body = client.get(f"/reports/{report_id}").get_json()
    assert body["status"] == "READY" and body["file_sha256"] == hashlib.sha256(published).hexdigest()
    kinds = [e["kind"] for e in body["events"]]
    assert kinds.count("completed") == 1 and kinds.count("stalled") == 1, kinds
