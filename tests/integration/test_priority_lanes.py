"""Priority lanes: interactive and batch reports travel on their own queues, consumed by workers bound to them."""

from __future__ import annotations

import time

from tests.conftest import wait_for, wait_status


def _counts(client):  # type: ignore[no-untyped-def]
    return {q["name"]: q for q in client.get("/queues").get_json()["queues"]}


def test_priority_defaults_to_interactive_and_each_lane_has_its_queue(client):
    interactive = client.post("/reports", json={}).get_json()["id"]
    batch = client.post("/reports", json={"priority": "batch"}).get_json()["id"]
    assert client.get(f"/reports/{interactive}").get_json()["priority"] == "interactive"
    assert client.get(f"/reports/{batch}").get_json()["priority"] == "batch"
    counts = _counts(client)
    assert counts["reports"]["waiting"] == 1 and counts["reports-batch"]["waiting"] == 1


def test_an_unknown_priority_is_422_and_creates_nothing(client):
    response = client.post("/reports", json={"priority": "urgent"})
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["field"] == "priority"
    assert client.get("/reports").get_json()["items"] == []


def test_a_worker_bound_to_one_lane_leaves_the_other_waiting(client, make_worker):
    make_worker(threads=2, queues={"reports"})
    batch = client.post("/reports", json={"priority": "batch"}).get_json()["id"]
    interactive = client.post("/reports", json={}).get_json()["id"]
    wait_status(client, interactive, {"READY"}, timeout=15)
    time.sleep(0.5)
    assert client.get(f"/reports/{batch}/status").get_json()["status"] == "PENDING"
    make_worker(threads=2, queues={"reports-batch"})
    wait_status(client, batch, {"READY"}, timeout=15)


def test_interactive_report_is_not_stuck_behind_500_batch_reports(client, make_worker):
    render = {"simulate": {"sleep_seconds": 0.5}}
    make_worker(threads=2, queues={"reports-batch"})
    make_worker(threads=1, queues={"reports"})
    # One render time on a free interactive worker, measured in this run.
    started = time.monotonic()
    wait_status(client, client.post("/reports", json={"params": render}).get_json()["id"], {"READY"}, timeout=15)
    one_render = time.monotonic() - started
    batch = [client.post("/reports", json={"priority": "batch", "params": render}).get_json()["id"]
             for _ in range(500)]
    asked = time.monotonic()
    rid = client.post("/reports", json={"params": render}).get_json()["id"]
    wait_status(client, rid, {"READY"}, timeout=15)
    took = time.monotonic() - asked
    assert took < 2 * one_render, (took, one_render)  # its own render plus at most one more of slack
    waiting = _counts(client)["reports-batch"]
    assert waiting["waiting"] + waiting["delayed"] + waiting["held"] >= 400  # the batch backlog was still there
    pending = sum(1 for b in batch[-50:] if client.get(f"/reports/{b}/status").get_json()["status"] == "PENDING")
    assert pending == 50
    print(f"lanes: one render {one_render:.2f} s; interactive behind 500 batch: {took:.2f} s")


def test_a_schedules_report_goes_to_the_batch_lane(client):
    schedule = client.post("/schedules", json={"name": "nightly", "cron": "0 2 * * *", "timezone": "UTC"})
    assert schedule.status_code == 201, schedule.get_data(as_text=True)
    run = client.post(f"/schedules/{schedule.get_json()['id']}/run")
    assert run.status_code == 202
    assert client.get(f"/reports/{run.get_json()['id']}").get_json()["priority"] == "batch"
    assert wait_for(lambda: _counts(client)["reports-batch"]["waiting"] == 1, timeout=3)
