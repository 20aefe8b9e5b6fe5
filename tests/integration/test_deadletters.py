"""Dead letters tied to reports: requeue runs the report again, delete leaves a note, bulk is exact."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from sqlalchemy import text

from tests.conftest import report_status, stop_worker, wait_for, wait_status
from tests.race import run_together

DEAD = "dramatiq:reports.XQ"
DEAD_MSGS = "dramatiq:reports.XQ.msgs"
WAITING = "dramatiq:reports"


def _events(client, report_id):
    return client.get(f"/reports/{report_id}").get_json()["events"]


def _audit(client, action=None):
    url = "/audit?limit=200" + (f"&action={action}" if action else "")
    return client.get(url).get_json()["items"]


def fabricate_dead(app, redis_client, reports: list[tuple[uuid.UUID, str, float]], actor: str = "generate_report"):
    """FAILED report rows + their dead letters in Dramatiq 2.2's exact format; returns the Redis ids."""
    from reportsvc.extensions import db
    from reportsvc.tasks import generate_report, send_report_email

    actor_obj = generate_report if actor == "generate_report" else send_report_email
    with app.app_context():
        rows = [{"id": rid, "err": err} for rid, err, _ in reports]
        for i in range(0, len(rows), 1000):
            db.session.execute(
                text("INSERT INTO report_requests (id, status, progress, error_message, attempts, report_type) "
                     "VALUES (:id, 'FAILED', 0, :err, 4, 'operations') ON CONFLICT (id) DO NOTHING"),
                rows[i : i + 1000],
            )
        db.session.commit()
    ids = []
    pipe = redis_client.pipeline(transaction=False)
    for rid, _, score in reports:
        redis_id = str(uuid.uuid4())
        # What a nack of the last retry leaves: the last enqueued body (retries 3, an old eta) under its Redis id.
        msg = actor_obj.message(str(rid)).copy(
            options={"redis_message_id": redis_id, "retries": 3, "eta": int(score) - 5000, "max_retries": 3}
        )
        pipe.hset(DEAD_MSGS, redis_id, msg.encode())
        pipe.zadd(DEAD, {redis_id: score})
        ids.append(redis_id)
    pipe.execute()
    return ids


@pytest.fixture
def maintenance_worker(app) -> Iterator[Any]:
    """A real Dramatiq worker consuming only the maintenance queue (reports stay where the job put them)."""
    broker = dramatiq.get_broker()
    w = dramatiq.Worker(broker, queues={"maintenance"}, worker_threads=1, worker_timeout=100)
    w.start()
    yield w
    stop_worker(w)


def wait_job(client, job_id, timeout=120.0):
    return wait_for(
        lambda: (j := client.get(f"/queues/bulk-jobs/{job_id}").get_json())["state"] in ("done", "failed", "cancelled")
        and j,
        timeout=timeout,
    )


def test_requeue_of_dead_letter_runs_the_report_again_and_a_second_click_sends_nothing(
    client, worker, settings, redis_client
):
    settings(retry_delays_ms=(100, 200, 300))
    report_id = client.post("/reports", json={"params": {"simulate": {"fail_times": 4}}}).get_json()["id"]
    final = wait_status(client, report_id, {"FAILED", "READY"}, timeout=30)
    assert final["status"] == "FAILED" and final["attempts"] == 4
    wait_for(lambda: redis_client.zcard(DEAD) == 1, timeout=10)

    page = client.get("/queues/reports/dead").get_json()
    assert page["total"] == 1 and len(page["items"]) == 1
    letter = page["items"][0]
    assert letter["report_id"] == report_id and letter["report_url"] == f"/console/reports/{report_id}"
    assert "simulated failure" in letter["last_error"] and letter["report_status"] == "FAILED"
    assert letter["dead_at"] and letter["actor"] == "generate_report"

    first = client.post("/queues/reports/dead/requeue", json={"ids": [letter["redis_id"]]},
                        headers={"X-Requested-By": "ops-alice"})
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json()["done"] == 1 and first.get_json()["reports_requeued"] == 1
    second = client.post("/queues/reports/dead/requeue", json={"ids": [letter["redis_id"]]},
                         headers={"X-Requested-By": "ops-alice"})
    assert second.status_code == 200
    assert second.get_json()["done"] == 0 and second.get_json()["missing"] == [letter["redis_id"]]

    final = wait_status(client, report_id, {"READY"}, timeout=30)
    assert final["attempts"] == 5  # lifetime counter: the fifth attempt succeeds
    worker.join()
    kinds = [e["kind"] for e in _events(client, report_id)]
    assert kinds.count("requeued") == 1
    assert kinds.count("claimed") == 5 and kinds.count("completed") == 1
    assert redis_client.zcard(DEAD) == 0
    entries = _audit(client, "dead.requeue")
    assert [(e["actor"], e["outcome"], e["detail"]["done"]) for e in entries] == [
        ("ops-alice", "noop", 0), ("ops-alice", "ok", 1)
    ]


def test_concurrent_requeues_of_the_same_letters_send_one_message_each(app, client, redis_client):
    from reportsvc.ops import deadletters
    from reportsvc.queues import decode_message
    from reportsvc.redis_client import get_redis

    for _round in range(3):  # a few rounds: each one a fresh race between the two threads
        redis_client.delete(WAITING, "dramatiq:reports.msgs")
        rids = [uuid.uuid4() for _ in range(20)]
        redis_ids = fabricate_dead(app, redis_client, [(rid, "boom", time.time() * 1000) for rid in rids])
        first, second = run_together(
            app,
            functools.partial(deadletters.requeue, get_redis(), "reports", redis_ids, actor="a"),
            functools.partial(deadletters.requeue, get_redis(), "reports", redis_ids[::-1], actor="b"),
        )
        assert first.done + second.done == len(redis_ids), (first, second)
        # exactly one message per letter: the waiting list holds each Redis id once
        waiting = [i.decode() for i in redis_client.lrange(WAITING, 0, -1)]
        assert sorted(waiting) == sorted(redis_ids)
        assert redis_client.hlen("dramatiq:reports.msgs") == len(redis_ids) and redis_client.zcard(DEAD) == 0
        for redis_id in redis_ids:
            view = decode_message(redis_client.hget("dramatiq:reports.msgs", redis_id))
            assert view.retries == 0 and view.eta is None and view.queue == "reports"
        for rid in rids:
            kinds = [e["kind"] for e in _events(client, rid)]
            assert kinds.count("requeued") == 1, kinds
            assert report_status(client, rid)["status"] == "PENDING"


def test_second_requeue_of_a_letter_finds_nothing(app, client, redis_client):
    from reportsvc.ops import deadletters
    from reportsvc.redis_client import get_redis

    [redis_id] = fabricate_dead(app, redis_client, [(uuid.uuid4(), "boom", time.time() * 1000)])
    with app.app_context():
        a = deadletters.requeue(get_redis(), "reports", [redis_id], actor="a")
        b = deadletters.requeue(get_redis(), "reports", [redis_id], actor="b")
    assert (a.done, b.done, b.missing) == (1, 0, [redis_id])
    assert redis_client.llen(WAITING) == 1 and redis_client.hlen("dramatiq:reports.msgs") == 1


def test_stale_letter_of_a_report_that_moved_on_is_skipped(app, client, redis_client):
    rid = uuid.uuid4()
    [redis_id] = fabricate_dead(app, redis_client, [(rid, "boom", time.time() * 1000)])
    assert client.post(f"/reports/{rid}/retry").status_code == 202  # manual retry: report PENDING, new message
    before = redis_client.llen(WAITING)
    body = client.post("/queues/reports/dead/requeue", json={"ids": [redis_id]}).get_json()
    assert body["done"] == 0 and body["skipped"] == [{"id": redis_id, "reason": "report is PENDING, not FAILED"}]
    assert redis_client.llen(WAITING) == before and redis_client.zcard(DEAD) == 1


def test_delete_keeps_report_failed_with_a_note(app, client, redis_client):
    rid = uuid.uuid4()
    [redis_id] = fabricate_dead(app, redis_client, [(rid, "boom", time.time() * 1000)])
    r = client.post("/queues/reports/dead/delete", json={"ids": [redis_id, "not-there"]},
                    headers={"X-Requested-By": "ops-bob"})
    assert r.status_code == 200 and r.get_json()["done"] == 1 and r.get_json()["missing"] == ["not-there"]
    assert redis_client.zcard(DEAD) == 0 and redis_client.hlen(DEAD_MSGS) == 0
    assert redis_client.llen(WAITING) == 0
    report = client.get(f"/reports/{rid}").get_json()
    assert report["status"] == "FAILED"
    notes = [e for e in report["events"] if e["kind"] == "dead_letter_deleted"]
    assert len(notes) == 1 and "ops-bob" in notes[0]["message"]
    [entry] = _audit(client, "dead.delete")
    assert entry["actor"] == "ops-bob" and entry["outcome"] == "partial" and entry["detail"]["done"] == 1


def test_bulk_requeue_of_5000_by_filter_is_exact(app, client, redis_client, maintenance_worker):
    now = time.time() * 1000
    specs = []
    for i in range(5000):
        err = "disk full on /var" if i % 3 == 0 else "upstream timeout"
        specs.append((uuid.uuid4(), err, now - 100_000 + i * 10))  # dead over ~50 s, oldest first
    ids = fabricate_dead(app, redis_client, specs)
    emails = fabricate_dead(app, redis_client, [(uuid.uuid4(), "disk full", now - 50_000 + i) for i in range(300)],
                            actor="send_report_email")
    cutoff = now - 100_000 + 1000 * 10  # letters 0..999 are older than this
    flt = {"actor": "generate_report", "error": "DISK FULL",
           "dead_after": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(cutoff / 1000)) + f".{int(cutoff % 1000):03d}Z"}
    expected = {ids[i] for i in range(1000, 5000) if i % 3 == 0}
    expected_reports = {str(specs[i][0]) for i in range(1000, 5000) if i % 3 == 0}

    dry = client.post("/queues/reports/dead/count", json={"filter": flt})
    assert dry.status_code == 200 and dry.get_json()["count"] == len(expected) and dry.get_json()["exact"]
    assert redis_client.zcard(DEAD) == 5300  # the dry run changed nothing

    r = client.post("/queues/reports/dead/requeue", json={"all": True, "filter": flt},
                    headers={"X-Requested-By": "ops-carol"})
    assert r.status_code == 202, r.get_data(as_text=True)
    job = wait_job(client, r.get_json()["id"])
    assert job["state"] == "done", job
    assert job["done"] == len(expected) and job["matched"] == len(expected) and job["skipped"] == 0
    assert job["scanned"] >= 4000 and job["progress"] == 100

    # A bulk requeue goes to the batch lane by default.
    waiting = {x.decode() for x in redis_client.lrange("dramatiq:reports-batch", 0, -1)}
    assert waiting == expected and redis_client.llen(WAITING) == 0
    assert redis_client.zcard(DEAD) == 5300 - len(expected)
    remaining = {x.decode() for x in redis_client.zrange(DEAD, 0, -1)}
    assert remaining == (set(ids) - expected) | set(emails)
    from reportsvc.extensions import db

    with app.app_context():
        pending = {str(x) for x in db.session.execute(
            text("SELECT id FROM report_requests WHERE status = 'PENDING' AND priority = 'batch'")).scalars()}
        requeued_events = db.session.execute(
            text("SELECT count(*) FROM report_events WHERE kind = 'requeued'")).scalar()
    assert pending == expected_reports and requeued_events == len(expected)

    started = _audit(client, "dead.requeue_all")
    finished = _audit(client, "dead.requeue_all.finished")
    assert started[0]["actor"] == "ops-carol" and started[0]["outcome"] == "accepted"
    assert finished[0]["outcome"] == "done" and finished[0]["detail"]["done"] == len(expected)

    # Running it again finds nothing left to move.
    again = client.post("/queues/reports/dead/requeue", json={"all": True, "filter": flt}).get_json()
    assert wait_job(client, again["id"])["done"] == 0


def test_bulk_delete_all_and_progress_visible(app, client, redis_client, maintenance_worker):
    now = time.time() * 1000
    specs = [(uuid.uuid4(), "boom", now - 10_000 + i) for i in range(1200)]
    fabricate_dead(app, redis_client, specs)
    r = client.post("/queues/reports/dead/delete", json={"all": True})
    assert r.status_code == 202
    body = r.get_json()
    assert body["total"] == 1200 and body["state"] in ("queued", "running", "done")
    assert body["status_url"] == f"/queues/bulk-jobs/{body['id']}"
    job = wait_job(client, body["id"])
    assert job["state"] == "done" and job["done"] == 1200 and job["batches"] >= 3
    assert redis_client.zcard(DEAD) == 0 and redis_client.hlen(DEAD_MSGS) == 0
    from reportsvc.extensions import db

    with app.app_context():
        notes = db.session.execute(text("SELECT count(*) FROM report_events WHERE kind = 'dead_letter_deleted'"))
        statuses = db.session.execute(text("SELECT DISTINCT status FROM report_requests")).scalars().all()
    assert notes.scalar() == 1200 and statuses == ["FAILED"]


def test_bulk_job_ignores_letters_that_die_after_it_was_created(app, client, redis_client):
    from reportsvc.ops import bulkjobs, deadletters

    now = time.time() * 1000
    fabricate_dead(app, redis_client, [(uuid.uuid4(), "x", now - 1000 + i) for i in range(10)])
    with app.app_context():
        job = bulkjobs.create(action="delete", queue="reports", flt=deadletters.LetterFilter(), actor="t")
        late = fabricate_dead(app, redis_client, [(uuid.uuid4(), "x", time.time() * 1000 + 5000)])
        assert bulkjobs.run(job.id, batch_size=3) == "done"
        assert bulkjobs.run(job.id) is None  # a redelivered message finds it finished
        done = bulkjobs.get(job.id)
        assert done is not None and done.done == 10 and done.batches >= 4
    assert [x.decode() for x in redis_client.zrange(DEAD, 0, -1)] == late


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/queues/reports/dead/requeue", None, 422, "invalid_input"),
        ("/queues/reports/dead/requeue", {}, 422, "invalid_input"),
        ("/queues/reports/dead/requeue", {"ids": []}, 422, "invalid_input"),
        ("/queues/reports/dead/requeue", {"ids": "abc"}, 422, "invalid_input"),
        ("/queues/reports/dead/requeue", {"ids": [1, 2]}, 422, "invalid_input"),
        ("/queues/reports/dead/requeue", {"ids": ["a b"]}, 422, "invalid_input"),
        ("/queues/reports/dead/requeue", {"ids": ["x"] * 1001}, 422, "invalid_input"),
        ("/queues/reports/dead/requeue", {"ids": ["a"], "all": True}, 422, "invalid_input"),
        ("/queues/reports/dead/requeue", {"all": "yes"}, 422, "invalid_input"),
        ("/queues/reports/dead/requeue", {"all": True, "filter": {"colour": "red"}}, 422, "invalid_input"),
        ("/queues/reports/dead/requeue", {"all": True, "filter": {"dead_before": "yesterday"}}, 422,
         "invalid_input"),
        ("/queues/reports/dead/requeue", {"all": True, "filter": {"dead_after": "2026-01-02T00:00:00Z",
                                                                  "dead_before": "2026-01-01T00:00:00Z"}}, 422,
         "invalid_input"),
        ("/queues/reports/dead/delete", {"all": True, "filter": []}, 422, "invalid_input"),
        ("/queues/reports/dead/count", {"filter": {"error": 5}}, 422, "invalid_input"),
        ("/queues/nope/dead/requeue", {"ids": ["a"]}, 404, "unknown_queue"),
        ("/queues/bad%20name/dead/requeue", {"ids": ["a"]}, 400, "invalid_queue"),
        ("/workers/someone/release", {"force": "yes"}, 422, "invalid_input"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(app, client, redis_client, path, body, status, code):
    specs = [(uuid.uuid4(), "boom", time.time() * 1000)]
    fabricate_dead(app, redis_client, specs)
    before = (redis_client.zcard(DEAD), redis_client.llen(WAITING))
    response = client.post(path, json=body) if body is not None else client.post(path)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json and response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["message"]
    assert (redis_client.zcard(DEAD), redis_client.llen(WAITING)) == before
    assert client.get(f"/reports/{specs[0][0]}/status").get_json()["status"] == "FAILED"
    assert _audit(client) == []


def test_malformed_json_and_wrong_media_type(client):
    r = client.post("/queues/reports/dead/requeue", data="{not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "invalid_json"
    r = client.post("/queues/reports/dead/requeue", data="ids=1", content_type="text/plain")
    assert r.status_code == 415


def test_scheduler_watchdog_resends_a_bulk_job_whose_runner_died(app, redis_client):
    """A job stuck in 'running' with an expired lease gets its runner message again."""
    import uuid as _uuid

    from sqlalchemy import text as _text

    from reportsvc.extensions import db as _db
    from reportsvc.ops import bulkjobs

    with app.app_context():
        job_id = _uuid.uuid4()
        _db.session.execute(_text(
            "INSERT INTO bulk_jobs (id, actor, action, queue, state, snapshot_ms, heartbeat_at) "
            "VALUES (:i, 'tester', 'requeue', 'reports', 'running', 0, now() - interval '5 minutes')"), {"i": job_id})
        _db.session.commit()
        assert bulkjobs.resume_stale() == [str(job_id)]
    assert redis_client.llen("dramatiq:maintenance") == 1
