"""Bulk dead-letter requeues go to the batch lane by default: letter, report priority and message index move."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from sqlalchemy import text

from tests.conftest import wait_for, wait_status
from tests.integration.test_deadletters import DEAD, WAITING, fabricate_dead, maintenance_worker, wait_job  # noqa: F401

BATCH = "dramatiq:reports-batch"
BATCH_MSGS = "dramatiq:reports-batch.msgs"
INDEX = "reportsvc:msgindex:"


def _now_ms() -> float:
    return time.time() * 1000


def _report(client, rid):  # type: ignore[no-untyped-def]
    return client.get(f"/reports/{rid}").get_json()


def _message_id(redis_client, key: str, redis_id: str) -> str:
    return json.loads(redis_client.hget(key, redis_id))["message_id"]


def _counts(app) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """(audit rows, bulk jobs, requeued events): what a refused request must leave at zero."""
    from reportsvc.extensions import db

    with app.app_context():
        row = db.session.execute(text(
            "SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM bulk_jobs), "
            "(SELECT count(*) FROM report_events WHERE kind = 'requeued')")).one()
        db.session.rollback()
    return tuple(row)  # type: ignore[return-value]


def test_bulk_requeue_moves_interactive_letters_to_the_batch_lane_once_and_batch_workers_finish_them(
    app, client, redis_client, maintenance_worker, make_worker  # noqa: F811
):
    specs = [(uuid.uuid4(), "upstream timeout", _now_ms() - 1000 + i) for i in range(12)]
    ids = fabricate_dead(app, redis_client, specs)
    # What the broker's enqueue left for each letter: the index names its Redis entry on the interactive lane.
    message_ids = {i: _message_id(redis_client, "dramatiq:reports.XQ.msgs", i) for i in ids}
    for redis_id, message_id in message_ids.items():
        redis_client.set(INDEX + message_id, f"reports|{redis_id}")

    r = client.post("/queues/reports/dead/requeue", json={"all": True}, headers={"X-Requested-By": "ops-dan"})
    assert r.status_code == 202, r.get_data(as_text=True)
    assert r.get_json()["lane"] == "batch"
    job = wait_job(client, r.get_json()["id"])
    assert job["state"] == "done" and job["done"] == len(ids) and job["lane"] == "batch", job

    # Each letter exactly once, on the batch lane's list and hash; nothing left dead or on the interactive lane.
    assert sorted(x.decode() for x in redis_client.lrange(BATCH, 0, -1)) == sorted(ids)
    assert redis_client.hlen(BATCH_MSGS) == len(ids)
    assert redis_client.llen(WAITING) == 0 and redis_client.hlen("dramatiq:reports.msgs") == 0
    assert redis_client.zcard(DEAD) == 0
    for redis_id, message_id in message_ids.items():
        body = json.loads(redis_client.hget(BATCH_MSGS, redis_id))
        assert body["queue_name"] == "reports-batch" and body["message_id"] == message_id
        assert body["options"]["retries"] == 0 and "eta" not in body["options"]
        assert redis_client.get(INDEX + message_id).decode() == f"reports-batch|{redis_id}"
    for rid, _, _ in specs:
        report = _report(client, rid)
        assert report["status"] == "PENDING" and report["priority"] == "batch"
        [event] = [e for e in report["events"] if e["kind"] == "requeued"]
        assert "to the batch lane" in event["message"] and "ops-dan" in event["message"]

    make_worker(threads=4, queues={"reports-batch"})
    for rid, _, _ in specs:
        wait_status(client, str(rid), {"READY"}, timeout=60)
    for rid, _, _ in specs:
        kinds = [e["kind"] for e in _report(client, rid)["events"]]
        assert kinds.count("completed") == 1 and kinds.count("requeued") == 1, kinds
    [finished] = client.get("/audit?action=dead.requeue_all.finished").get_json()["items"]
    assert finished["detail"]["lane"] == "batch" and finished["detail"]["done"] == len(ids)


def test_a_letter_requeued_by_someone_else_meanwhile_is_skipped_by_the_move_script(app, redis_client):
    from reportsvc import queues

    ids = fabricate_dead(app, redis_client, [(uuid.uuid4(), "boom", _now_ms() - 100 + i) for i in range(10)])
    other = ids[3]
    newer = ids[5]
    newer_message = _message_id(redis_client, "dramatiq:reports.XQ.msgs", newer)
    redis_client.set(INDEX + newer_message, "reports|a-newer-enqueue")  # a manual retry re-sent that message

    def someone_else_first(views):  # type: ignore[no-untyped-def]
        # Runs after the batch read the letters as dead, before the move script: another operator wins one.
        assert queues.requeue_dead_ids(redis_client, "reports", [other]) == [other]
        return {v.redis_id for v in views}

    batch = queues.requeue_dead_batch(redis_client, "reports", filter=queues.DeadFilter(allow=someone_else_first),
                                      route=lambda _redis_id: "reports-batch")
    assert other in batch.selected and other not in batch.ids
    assert sorted(batch.ids) == sorted(set(ids) - {other})
    assert [x.decode() for x in redis_client.lrange(WAITING, 0, -1)] == [other]
    assert sorted(x.decode() for x in redis_client.lrange(BATCH, 0, -1)) == sorted(set(ids) - {other})
    assert not redis_client.hexists(BATCH_MSGS, other) and redis_client.zcard(DEAD) == 0
    # The index of a message that was enqueued again since is left alone.
    assert redis_client.get(INDEX + newer_message).decode() == "reports|a-newer-enqueue"


def test_a_letter_whose_report_someone_else_requeued_meanwhile_is_skipped_with_the_reason(app, client, redis_client):
    from reportsvc.ops import deadletters
    from reportsvc.redis_client import get_redis

    rid = uuid.uuid4()
    [redis_id] = fabricate_dead(app, redis_client, [(rid, "boom", _now_ms())])
    assert client.post(f"/reports/{rid}/retry").status_code == 202  # report PENDING with a fresh message
    before = (redis_client.llen(WAITING), redis_client.llen(BATCH))
    with app.app_context():
        step = deadletters.requeue_step(get_redis(), "reports", deadletters.LetterFilter(), actor="a", cursor=None)
    assert step.result.done == 0
    assert step.result.skipped == [{"id": redis_id, "reason": "report is PENDING, not FAILED"}]
    assert (redis_client.llen(WAITING), redis_client.llen(BATCH)) == before and redis_client.zcard(DEAD) == 1
    assert _report(client, rid)["priority"] == "interactive"


def test_single_requeue_keeps_its_own_lane_unless_asked(app, client, redis_client):
    rids = [uuid.uuid4(), uuid.uuid4()]
    keep, move = fabricate_dead(app, redis_client, [(rid, "boom", _now_ms()) for rid in rids])
    first = client.post("/queues/reports/dead/requeue", json={"ids": [keep]})
    assert first.status_code == 200 and first.get_json()["lane"] == "original" and first.get_json()["done"] == 1
    second = client.post("/queues/reports/dead/requeue", json={"ids": [move], "lane": "batch"})
    assert second.status_code == 200 and second.get_json()["done"] == 1
    assert [x.decode() for x in redis_client.lrange(WAITING, 0, -1)] == [keep]
    assert [x.decode() for x in redis_client.lrange(BATCH, 0, -1)] == [move]
    assert [_report(client, rid)["priority"] for rid in rids] == ["interactive", "batch"]


def test_bulk_requeue_with_lane_original_keeps_letters_on_their_queue(app, client, redis_client, maintenance_worker):  # noqa: F811
    rids = [uuid.uuid4() for _ in range(3)]
    ids = fabricate_dead(app, redis_client, [(rid, "boom", _now_ms() - 10 + i) for i, rid in enumerate(rids)])
    r = client.post("/queues/reports/dead/requeue", json={"all": True, "lane": "original"})
    assert r.status_code == 202 and wait_job(client, r.get_json()["id"])["done"] == 3
    assert sorted(x.decode() for x in redis_client.lrange(WAITING, 0, -1)) == sorted(ids)
    assert redis_client.llen(BATCH) == 0
    assert {_report(client, rid)["priority"] for rid in rids} == {"interactive"}


def test_a_batch_lane_letter_requeued_to_the_interactive_lane(app, client, redis_client):
    from reportsvc.extensions import db
    from reportsvc.ops import deadletters
    from reportsvc.redis_client import get_redis

    rid = uuid.uuid4()
    [redis_id] = fabricate_dead(app, redis_client, [(rid, "boom", _now_ms())])
    with app.app_context():
        assert deadletters.requeue(get_redis(), "reports", [redis_id], actor="t", lane="batch").done == 1
        # ...where it dies again: what a nack on the batch lane leaves, and the report FAILED.
        body = redis_client.hget(BATCH_MSGS, redis_id)
        redis_client.lrem(BATCH, 0, redis_id)
        redis_client.hdel(BATCH_MSGS, redis_id)
        redis_client.zadd("dramatiq:reports-batch.XQ", {redis_id: _now_ms()})
        redis_client.hset("dramatiq:reports-batch.XQ.msgs", redis_id, body)
        db.session.execute(text("UPDATE report_requests SET status = 'FAILED' WHERE id = :id"), {"id": rid})
        db.session.commit()
    r = client.post("/queues/reports-batch/dead/requeue", json={"ids": [redis_id], "lane": "interactive"})
    assert r.status_code == 200 and r.get_json()["done"] == 1
    assert [x.decode() for x in redis_client.lrange(WAITING, 0, -1)] == [redis_id]
    assert redis_client.llen(BATCH) == 0 and redis_client.zcard("dramatiq:reports-batch.XQ") == 0
    assert json.loads(redis_client.hget("dramatiq:reports.msgs", redis_id))["queue_name"] == "reports"
    assert _report(client, rid)["priority"] == "interactive"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/queues/reports/dead/requeue", {"all": True, "lane": "urgent"}),
        ("/queues/reports/dead/requeue", {"all": True, "lane": 1}),
        ("/queues/reports/dead/requeue", {"ids": ["x"], "lane": "BATCH"}),
        ("/queues/reports/dead/delete", {"all": True, "lane": "batch"}),
    ],
)
def test_a_bad_lane_is_422_and_changes_nothing(app, client, redis_client, path, body):
    rid = uuid.uuid4()
    fabricate_dead(app, redis_client, [(rid, "boom", _now_ms())])
    response = client.post(path, json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "invalid_input"
    assert response.get_json()["error"]["details"][0]["field"] == "lane"
    assert redis_client.zcard(DEAD) == 1 and redis_client.llen(WAITING) == 0 and redis_client.llen(BATCH) == 0
    assert _report(client, rid)["status"] == "FAILED" and _report(client, rid)["priority"] == "interactive"
    assert _counts(app) == (0, 0, 0)


def test_the_console_refuses_a_bad_lane_and_changes_nothing(app, client, redis_client):
    [redis_id] = fabricate_dead(app, redis_client, [(uuid.uuid4(), "boom", _now_ms())])
    for url, data in (("/console/queues/reports/dead-all/requeue", {"lane": "urgent"}),
                      ("/console/queues/reports/dead/requeue", {"ids": [redis_id], "lane": "urgent"})):
        r = client.post(url, data=data)
        assert r.status_code == 303
        assert "must be one of" in client.get(r.headers["Location"]).get_data(as_text=True)
    assert redis_client.zcard(DEAD) == 1 and redis_client.llen(BATCH) == 0 and _counts(app) == (0, 0, 0)


def test_a_viewer_cannot_requeue_to_a_lane(app, viewer_client, redis_client):
    rid = uuid.uuid4()
    [redis_id] = fabricate_dead(app, redis_client, [(rid, "boom", _now_ms())])
    api = viewer_client.post("/queues/reports/dead/requeue", json={"all": True, "lane": "batch"})
    assert api.status_code == 403 and api.get_json()["error"]["code"] == "forbidden"
    console = viewer_client.post("/console/queues/reports/dead/requeue", data={"ids": [redis_id], "lane": "batch"})
    assert console.status_code == 403
    assert redis_client.zcard(DEAD) == 1 and redis_client.llen(BATCH) == 0 and _counts(app) == (0, 0, 0)


def _cli(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["queues", "requeue-dead", *args])


def test_cli_requeues_named_letters_home_and_all_matching_to_the_batch_lane(app, client, redis_client):
    specs = [(uuid.uuid4(), "disk full" if i < 3 else "timeout", _now_ms() - 10 + i) for i in range(5)]
    ids = fabricate_dead(app, redis_client, specs)
    one = _cli(app, "reports", ids[4])
    assert one.exit_code == 0, one.output
    assert "requeued 1 of 1 dead letters of reports (to the queue each died on)" in one.output
    ran = _cli(app, "reports", "--all", "--error", "disk")
    assert ran.exit_code == 0, ran.output
    assert "to the batch lane" in ran.output and "done: requeued 3 of 3 matching" in ran.output
    assert [x.decode() for x in redis_client.lrange(WAITING, 0, -1)] == [ids[4]]
    assert sorted(x.decode() for x in redis_client.lrange(BATCH, 0, -1)) == sorted(ids[:3])
    assert redis_client.zcard(DEAD) == 1
    assert [_report(client, rid)["priority"] for rid, _, _ in specs[:3]] == ["batch"] * 3
    actions = [(e["action"], e["actor"]) for e in client.get("/audit").get_json()["items"]]
    assert ("dead.requeue", "cli") in actions and ("dead.requeue_all", "cli") in actions


@pytest.mark.parametrize(
    "args",
    [("reports", "--all", "--lane", "urgent"), ("reports",), ("reports", "x", "--all"),
     ("reports", "x", "--error", "e"), ("reports", "--all", "--dead-after", "soon"), ("nope", "--all")],
)
def test_cli_refuses_bad_input_and_changes_nothing(app, client, redis_client, args):
    fabricate_dead(app, redis_client, [(uuid.uuid4(), "boom", _now_ms())])
    result = _cli(app, *args)
    assert result.exit_code != 0 and result.output.strip()
    assert redis_client.zcard(DEAD) == 1 and redis_client.llen(WAITING) == 0 and redis_client.llen(BATCH) == 0
    assert _counts(app) == (0, 0, 0)


def test_the_message_index_ttl_is_the_brokers():
    from reportsvc.queues.index import MESSAGE_INDEX_TTL_MS
    from reportsvc.worker.broker import MESSAGE_INDEX_TTL_MS as BROKER_TTL

    assert MESSAGE_INDEX_TTL_MS == BROKER_TTL


def test_requeued_letters_wait_for_a_batch_worker(app, client, redis_client, make_worker):
    """Workers bound to the interactive lane leave letters moved to the batch lane alone."""
    rid = uuid.uuid4()
    [redis_id] = fabricate_dead(app, redis_client, [(rid, "boom", _now_ms())])
    make_worker(threads=1, queues={"reports"})
    assert client.post("/queues/reports/dead/requeue", json={"ids": [redis_id], "lane": "batch"}).status_code == 200
    time.sleep(0.5)
    assert _report(client, rid)["status"] == "PENDING" and redis_client.llen(BATCH) == 1
    make_worker(threads=1, queues={"reports-batch"})
    wait_for(lambda: _report(client, rid)["status"] == "READY", timeout=30)
