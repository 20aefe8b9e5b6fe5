"""The queue JSON API against real Redis and real Dramatiq workers: counts, pages, promote, release, audit."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from dramatiq.brokers.redis import RedisBroker

from tests.conftest import wait_for, wait_status
from tests.integration.test_deadletters import fabricate_dead

K = "dramatiq:reports"


def stats(client, name="reports") -> dict[str, Any]:
    body = client.get("/queues").get_json()
    return next(q for q in body["queues"] if q["name"] == name)


def raw_counts(r) -> dict[str, int]:
    """What redis-cli reports for the queue, the way DESIGN section 4 says to count."""
    pipe = r.pipeline(transaction=True)
    pipe.llen(K)
    pipe.hlen(f"{K}.msgs")
    pipe.hlen(f"{K}.DQ.msgs")
    pipe.zcard(f"{K}.XQ")
    waiting, msgs, delayed, dead = pipe.execute()
    return {"waiting": waiting, "delayed": delayed, "held": msgs - waiting, "dead": dead}


def all_ids(client, state, limit=3, order="newest") -> list[str]:
    out, cursor = [], None
    while True:
        url = f"/queues/reports/{state}?limit={limit}&order={order}" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url).get_json()
        out += [m["redis_id"] for m in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return out


def side_broker(url: str) -> RedisBroker:
    """Another broker process on the same Redis (maintenance off: only the code under test moves messages)."""
    b = RedisBroker(url=url, namespace="dramatiq", maintenance_chance=0)
    b.declare_queue("reports")
    return b


def test_overview_lists_declared_queues(client):
    body = client.get("/queues").get_json()
    names = [q["name"] for q in body["queues"]]
    assert {"reports", "notifications", "maintenance"} <= set(names)
    assert stats(client) == {"name": "reports", "waiting": 0, "delayed": 0, "held": 0, "dead": 0, "total": 0,
                             "oldest_waiting_age_s": None, "paused": False, "paused_since": None, "paused_by": None}


def test_counts_match_raw_redis_in_every_state(app, client, make_worker, redis_client):
    from reportsvc.tasks import generate_report

    # Without a worker: waiting and dead.
    waiting_ids = [generate_report.send(str(uuid.uuid4())).options["redis_message_id"] for _ in range(7)]
    dead_ids = fabricate_dead(app, redis_client, [(uuid.uuid4(), "boom", time.time() * 1000 - i) for i in range(3)])
    s = stats(client)
    assert {k: s[k] for k in ("waiting", "delayed", "held", "dead")} == raw_counts(redis_client)
    assert (s["waiting"], s["dead"]) == (7, 3) and s["oldest_waiting_age_s"] >= 0
    assert all_ids(client, "waiting", order="oldest") == waiting_ids
    assert all_ids(client, "waiting") == waiting_ids[::-1]
    assert set(all_ids(client, "dead", limit=2)) == set(dead_ids)

    # With a worker: delayed messages sit in its memory (LLEN q.DQ is 0), sleeping reports are held.
    make_worker(threads=2)
    wait_for(lambda: redis_client.llen(K) == 0)
    delayed = [generate_report.send_with_options(args=(str(uuid.uuid4()),), delay=60_000).options["redis_message_id"]
               for _ in range(3)]
    # Long renders, cancelled at the end: everything below must see them RUNNING, and with 3 s renders a loaded
    # machine could finish one before the held counts were read.
    running = [client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 60}}}).get_json()["id"]
               for _ in range(2)]
    for rid in running:
        wait_status(client, rid, {"RUNNING"}, timeout=10)
    wait_for(lambda: redis_client.hlen(f"{K}.DQ.msgs") == 3 and redis_client.llen(f"{K}.DQ") == 0, timeout=10)
    s = stats(client)
    raw = raw_counts(redis_client)
    assert {k: s[k] for k in ("waiting", "delayed", "held", "dead")} == raw
    assert (s["delayed"], s["held"], s["dead"]) == (3, 2, 3)
    assert set(all_ids(client, "delayed", limit=2)) == set(delayed)
    held = client.get("/queues/reports/held").get_json()
    assert held["total"] == 2 and {m["report_id"] for m in held["items"]} == set(running)
    assert all(m["held_by"] and m["report_status"] == "RUNNING" for m in held["items"])
    delayed_page = client.get("/queues/reports/delayed?limit=10").get_json()
    assert all(m["eta"] and m["held_by"] for m in delayed_page["items"])

    workers = client.get("/workers").get_json()["workers"]
    consumers = [w for w in workers if w["role"] == "consumer"]
    assert len(consumers) == 1 and consumers[0]["alive"]
    assert consumers[0]["held"] == {"reports": 2, "reports.DQ": 3}
    for rid in running:
        assert client.delete(f"/reports/{rid}").status_code == 202
    for rid in running:
        wait_status(client, rid, {"CANCELLED"}, timeout=20)


def test_message_detail_by_redis_id_and_by_dramatiq_message_id(app, client, redis_client):
    from reportsvc.tasks import generate_report

    report_id = client.post("/reports", json={"title": "Detail " + "x" * 10}).get_json()["id"]
    message_id = client.get(f"/reports/{report_id}").get_json()["message_id"]
    body = client.get(f"/queues/reports/messages/{message_id}").get_json()
    assert body["state"] == "waiting" and body["location"]["position"] == 0
    assert body["report"]["id"] == report_id and body["timeline"][0]["kind"] == "created"
    assert body["body"].startswith("{") and body["options"]["redis_message_id"] == body["redis_id"]
    same = client.get(f"/queues/reports/messages/{body['redis_id']}").get_json()
    assert same["message_id"] == message_id

    long_arg = "y" * 1000
    generate_report.send(long_arg)
    items = client.get("/queues/reports/waiting?limit=1").get_json()["items"]
    assert items[0]["body_truncated"] and len(items[0]["body_preview"]) == 300

    r = client.get("/queues/reports/messages/missing-id")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_promote_delayed_runs_now_once(app, client, make_worker, redis_client):
    from reportsvc.tasks import generate_report

    report_id = client.post("/reports").get_json()["id"]
    redis_client.delete(K, f"{K}.msgs")  # the report's live message goes; a delayed copy replaces it
    m = generate_report.send_with_options(args=(report_id,), delay=3_600_000)
    rid = m.options["redis_message_id"]
    r = client.post(f"/queues/reports/messages/{rid}/promote", headers={"X-Requested-By": "ops-dan"})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert raw_counts(redis_client)["delayed"] == 0 and redis_client.lrange(K, 0, -1) == [rid.encode()]
    again = client.post(f"/queues/reports/messages/{rid}/promote")
    assert again.status_code == 409
    make_worker()
    wait_status(client, report_id, {"READY"}, timeout=20)
    entries = client.get("/audit?action=message.promote").get_json()["items"]
    assert [e["outcome"] for e in entries] == ["refused", "ok"] and entries[1]["actor"] == "ops-dan"


def test_promote_is_refused_while_a_live_worker_holds_it(app, client, worker, redis_client):
    from reportsvc.tasks import generate_report

    m = generate_report.send_with_options(args=(str(uuid.uuid4()),), delay=3_600_000)
    rid = m.options["redis_message_id"]
    wait_for(lambda: redis_client.llen(f"{K}.DQ") == 0 and redis_client.hlen(f"{K}.DQ.msgs") == 1)
    r = client.post(f"/queues/reports/messages/{rid}/promote")
    assert r.status_code == 409 and "live worker" in r.get_json()["error"]["message"]
    assert raw_counts(redis_client)["delayed"] == 1 and redis_client.llen(K) == 0


def test_release_from_dead_worker(app, client, engines, redis_client, make_worker):
    from reportsvc.tasks import generate_report

    ids = [generate_report.send(str(uuid.uuid4())).options["redis_message_id"] for _ in range(3)]
    other = side_broker(engines.redis_url)
    assert len(other.do_fetch("reports", 3)) == 3
    wid = other.broker_id
    refused = client.post(f"/workers/{wid}/release")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "worker_alive"
    one = client.post(f"/queues/reports/messages/{ids[0]}/release")
    assert one.status_code == 409
    assert raw_counts(redis_client)["held"] == 3

    # What kill -9 leaves: ack sets stay, the heartbeat stops advancing.
    redis_client.zadd("dramatiq:__heartbeats__", {wid: int(time.time() * 1000) - 120_000})
    listed = {w["worker_id"]: w for w in client.get("/workers").get_json()["workers"]}
    assert listed[wid]["alive"] is False and listed[wid]["held"] == {"reports": 3}
    detail = client.get(f"/queues/reports/messages/{ids[0]}").get_json()
    assert detail["location"] == {**detail["location"], "state": "held", "worker_id": wid, "worker_alive": False}

    one = client.post(f"/queues/reports/messages/{ids[0]}/release")
    assert one.status_code == 200 and one.get_json()["from_worker"] == wid
    r = client.post(f"/workers/{wid}/release")
    assert r.status_code == 200 and r.get_json()["released"] == 2
    assert client.post(f"/workers/{wid}/release").get_json()["released"] == 0
    assert raw_counts(redis_client) == {"waiting": 3, "delayed": 0, "held": 0, "dead": 0}
    assert redis_client.zscore("dramatiq:__heartbeats__", wid) is None
    outcomes = [e["outcome"] for e in client.get("/audit?action=worker.release").get_json()["items"]]
    assert outcomes == ["noop", "ok", "refused"]
    other.close()
    make_worker()
    wait_for(lambda: raw_counts(redis_client)["waiting"] == 0 and raw_counts(redis_client)["held"] == 0)


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/queues/reports/sideways", 404, "unknown_state"),
        ("/queues/nope/waiting", 404, "unknown_queue"),
        ("/queues/reports/waiting?limit=0", 400, "invalid_limit"),
        ("/queues/reports/waiting?limit=abc", 400, "invalid_limit"),
        ("/queues/reports/waiting?limit=501", 400, "invalid_limit"),
        ("/queues/reports/dead?cursor=garbage", 400, "invalid_cursor"),
        ("/queues/reports/waiting?cursor=w:x:y", 400, "invalid_cursor"),
        ("/queues/reports/held?cursor=k:w|zz", 400, "invalid_cursor"),
        ("/queues/reports/delayed?cursor=h:zz", 400, "invalid_cursor"),
        ("/queues/reports/waiting?order=sideways", 400, "invalid_order"),
        ("/queues/bulk-jobs/not-a-uuid", 400, "invalid_id"),
        (f"/queues/bulk-jobs/{uuid.uuid4()}", 404, "not_found"),
        ("/audit?cursor=%%%", 400, "invalid_cursor"),
    ],
)
def test_bad_reads_get_clear_json_errors(client, url, status, code):
    r = client.get(url)
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.get_json()["error"]["code"] == code


def test_audit_pages_newest_first(app, client):
    from reportsvc.state import audit

    with app.app_context():
        for i in range(7):
            audit.record("t", "test.action", f"thing:{i}", "ok", {"i": i})
    first = client.get("/audit?limit=3").get_json()
    seen = [e["target"] for e in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(f"/audit?limit=3&cursor={cursor}").get_json()
        seen += [e["target"] for e in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [f"thing:{i}" for i in range(6, -1, -1)]


def test_workers_reports_the_heartbeat_timeout_that_liveness_uses(app, client, settings, redis_client):
    """`heartbeat_timeout_s` is REPORT_LOCK_SECONDS, the same timeout each worker's `alive` was judged by."""
    settings(report_lock_seconds=7)
    now = int(time.time() * 1000)
    redis_client.zadd("dramatiq:__heartbeats__", {"beat-5s-ago": now - 5_000, "beat-9s-ago": now - 9_000})
    body = client.get("/workers").get_json()
    assert body["heartbeat_timeout_s"] == 7
    alive = {w["worker_id"]: w["alive"] for w in body["workers"]}
    assert alive["beat-5s-ago"] is True and alive["beat-9s-ago"] is False  # dead after 7 s, not Dramatiq's 60
