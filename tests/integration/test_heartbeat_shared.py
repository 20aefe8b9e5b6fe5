"""WORKER_HEARTBEAT_SHARED: one heartbeat thread per process beats every claim in one UPDATE, and tells each
job apart whether its claim still holds, was lost, or has a cancel request."""

from __future__ import annotations

import threading
import time
import uuid

from sqlalchemy import text

from reportsvc.state import lifecycle
from reportsvc.worker.heartbeat import SharedHeartbeat
from tests.conftest import wait_for, wait_status


def _claimed(app, client) -> lifecycle.Claim:  # type: ignore[no-untyped-def]
    report_id = uuid.UUID(client.post("/reports", json={}).get_json()["id"])
    with app.app_context():
        claim = lifecycle.claim(report_id, worker="test:1", message_id=None)
    assert claim is not None
    return claim


def _beat_at(db_session, report_id: uuid.UUID):  # type: ignore[no-untyped-def]
    value = db_session.execute(text("SELECT heartbeat_at FROM report_requests WHERE id = :id"),
                               {"id": report_id}).scalar_one()
    db_session.rollback()
    return value


def test_one_beat_refreshes_every_claim_and_flags_the_lost_and_the_cancelled(app, client, db_session) -> None:  # type: ignore[no-untyped-def]
    held, stolen, cancelled = (_claimed(app, client) for _ in range(3))
    beater = SharedHeartbeat(interval=3600)  # not started: the test beats by hand
    leases = {c.report_id: beater.add(c.report_id, c.run_id) for c in (held, stolen, cancelled)}
    before = _beat_at(db_session, held.report_id)
    db_session.execute(text("UPDATE report_requests SET run_id = :other WHERE id = :id"),
                       {"other": uuid.uuid4(), "id": stolen.report_id})
    db_session.commit()
    assert client.delete(f"/reports/{cancelled.report_id}").status_code == 202
    time.sleep(0.01)
    beater.beat()
    assert _beat_at(db_session, held.report_id) > before
    assert not leases[held.report_id].lost.is_set() and not leases[held.report_id].cancel.is_set()
    assert leases[stolen.report_id].lost.is_set()
    assert leases[cancelled.report_id].cancel.is_set() and not leases[cancelled.report_id].lost.is_set()
    assert _beat_at(db_session, stolen.report_id) < _beat_at(db_session, held.report_id)  # fenced: not beaten
    leases[held.report_id].stop()
    after = _beat_at(db_session, held.report_id)
    beater.beat()
    assert _beat_at(db_session, held.report_id) == after  # stopped: no longer beaten


def test_running_reports_share_one_heartbeat_thread_that_keeps_them_fresh(client, worker, settings, db_session) -> None:  # type: ignore[no-untyped-def]
    current = settings()
    # 6 s renders: both must still be RUNNING after the wait for RUNNING and the 1.25 s sleep below, which on a
    # loaded machine can take most of a 3 s render.
    ids = [client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 6}}}).get_json()["id"]
           for _ in range(2)]
    wait_for(lambda: all(client.get(f"/reports/{i}/status").get_json()["status"] == "RUNNING" for i in ids))
    time.sleep(current.heartbeat_interval_seconds * 2.5)
    names = [t.name for t in threading.enumerate()]
    assert names.count("reportsvc-heartbeat") == 1
    assert not any(name.startswith("heartbeat-") for name in names)  # no per-job threads
    # clock_timestamp(), not now(): now() is the start of the session's transaction, which the status polls
    # above (same app context, same session) left open before the sleep, so every age read about -1.25 s and
    # no bound could fail. Two intervals: a claim beaten only when it was taken is older than the sleep (1.25 s)
    # by now, and a loaded machine may delay a beat by a fraction of an interval.
    ages = db_session.execute(text("SELECT extract(epoch FROM clock_timestamp() - heartbeat_at) FROM report_requests"
                                   " WHERE id = ANY(CAST(:ids AS uuid[])) AND status = 'RUNNING'"),
                              {"ids": ids}).scalars().all()
    db_session.rollback()
    assert len(ages) == 2 and all(0 <= float(age) <= current.heartbeat_interval_seconds * 2 for age in ages), ages
    for report_id in ids:
        assert wait_status(client, report_id, {"READY", "FAILED"}, timeout=20)["status"] == "READY"
