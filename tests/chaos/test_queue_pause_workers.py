"""A paused queue under real worker processes: nothing starts for 30 s, through a worker restart; resume runs each
once."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from tests.conftest import wait_for

pytestmark = pytest.mark.slow


def _states(app):  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    with app.app_context():
        rows = db.session.execute(text("SELECT status, attempts FROM report_requests")).all()
        db.session.rollback()
    return rows


def _claims(app) -> int:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    with app.app_context():
        n = db.session.execute(text("SELECT count(*) FROM report_events WHERE kind = 'claimed'")).scalar()
        db.session.rollback()
    return int(n or 0)


def test_fifty_reports_stay_pending_for_30_s_under_two_workers_then_all_ready_once(app, client, chaos_settings,
                                                                                   start_worker, sweeper_loop):
    assert client.post("/queues/reports/pause").get_json()["paused"] is True
    workers = [start_worker(threads=4), start_worker(threads=4)]
    ids = [client.post("/reports", json={}).get_json()["id"] for _ in range(50)]
    started = time.monotonic()
    restarted = False
    while time.monotonic() - started < 30:
        rows = _states(app)
        assert len(rows) == 50 and all(r.status == "PENDING" and r.attempts == 0 for r in rows)
        assert _claims(app) == 0
        if not restarted and time.monotonic() - started > 15:
            workers[0].kill()  # a worker restart: the new one reads the pause from Redis (or PostgreSQL)
            workers[0] = start_worker(threads=4)
            restarted = True
        time.sleep(1)
    counts = next(q for q in client.get("/queues").get_json()["queues"] if q["name"] == "reports")
    assert counts["waiting"] + counts["delayed"] + counts["held"] >= 45  # visible (the killed worker's come back)
    statuses = [client.get(f"/reports/{rid}/status").get_json() for rid in ids[:3]]
    assert all(s["queue_paused"] and s["note"].startswith("queue paused") for s in statuses)
    client.post("/queues/reports/resume")
    wait_for(lambda: all(r.status == "READY" for r in _states(app)), timeout=60, interval=0.5)
    rows = _states(app)
    assert all(r.attempts == 1 for r in rows), [r.attempts for r in rows]
    assert _claims(app) == 50
    # one PDF per report, stored as <report_id>/<run_id>.pdf
    assert sorted(p.parent.name for p in chaos_settings.storage_dir.rglob("*.pdf")) == sorted(ids)
