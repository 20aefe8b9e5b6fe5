"""A worker killed with SIGKILL mid-report: the sweep recovers it and nothing is rendered twice."""

from __future__ import annotations

import random
import time

import pytest

from tests.chaos.harness import assert_published_once, running_reports, worker_ids
from tests.conftest import wait_for, wait_status

pytestmark = pytest.mark.slow


def _events(client, report_id):
    return client.get(f"/reports/{report_id}").get_json()["events"]


def _pdfs(settings):
    """One name per stored PDF: its report's (files are stored as <report_id>/<run_id>.pdf)."""
    return sorted(f"{p.parent.name}.pdf" for p in settings.storage_dir.rglob("*.pdf"))


def test_killed_worker_never_restarted_second_worker_finishes(client, chaos_settings, start_worker,
                                                               start_scheduler):
    first = start_worker()
    scheduler = start_scheduler()
    report_id = client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 4}}}).get_json()["id"]
    wait_for(lambda: (s := client.get(f"/reports/{report_id}/status").get_json())["status"] == "RUNNING"
             and s["progress"] > 5, timeout=30)
    first.kill()
    killed_at = time.monotonic()
    start_worker()
    final = wait_status(client, report_id, {"READY", "FAILED"}, timeout=40)
    recovered_in = time.monotonic() - killed_at
    assert final["status"] == "READY"
    # lock 3 s + sweep 1 s + a fresh 4 s render + start-up margin
    assert recovered_in < 3 + 1 + 4 + 8, recovered_in
    events = _events(client, report_id)
    kinds = [e["kind"] for e in events]
    assert kinds.count("stalled") == 1 and kinds.count("completed") == 1
    requeue = next(e for e in events if e["kind"] == "requeued")
    assert "released message" in requeue["message"] or "sent new message" in requeue["message"]
    assert _pdfs(chaos_settings) == [f"{report_id}.pdf"]
    body = client.get(f"/reports/{report_id}").get_json()
    assert body["stall_count"] == 1
    wait_for(lambda: "stalled (no heartbeat for" in scheduler.log_text()
             and "moving back to waiting" in scheduler.log_text(), timeout=5)


def test_twenty_reports_three_kills_under_live_claims(app, client, chaos_settings, start_worker, sweeper_loop,
                                                      chaos_inbox):
    ids = [client.post("/reports", json={"notify_email": f"r{i}@example.com",
                                         "params": {"simulate": {"sleep_seconds": 1.2}}}).get_json()["id"]
           for i in range(20)]
    rng = random.Random(7)
    worker = start_worker(threads=4)
    victims: list[set[str]] = []  # per kill: the reports the killed worker held under a live claim
    for _ in range(3):
        mine = wait_for(lambda: worker_ids(worker), timeout=30)  # noqa: B023 - called at once, in this loop
        # a heartbeat from THIS worker under a claim it holds, before it is killed
        wait_for(lambda: [r for r, w, beat in running_reports(app) if w in mine and beat], timeout=60)  # noqa: B023
        time.sleep(rng.uniform(0.0, 0.3))
        held = {r for r, w, _ in running_reports(app) if w in mine}
        worker.kill()
        assert held, "the killed worker held no RUNNING report"
        victims.append(held)
        worker = start_worker(threads=4)
    try:
        statuses = {rid: wait_status(client, rid, {"READY", "FAILED"}, timeout=90)["status"] for rid in ids}
    except AssertionError:
        detail = {r: client.get(f"/reports/{r}").get_json() for r in ids}
        stuck = {r: (d["status"], [e["kind"] + ":" + (e["message"] or "") for e in d["events"]][-4:])
                 for r, d in detail.items() if d["status"] not in ("READY", "FAILED")}
        raise AssertionError(f"not finished: {stuck}") from None
    assert set(statuses.values()) == {"READY"}, statuses
    for held in victims:  # every report a kill interrupted shows the stall on its timeline
        for rid in held:
            assert "stalled" in [e["kind"] for e in _events(client, rid)], rid
    for rid in ids:
        kinds = [e["kind"] for e in _events(client, rid)]
        assert kinds.count("completed") == 1, (rid, kinds)
    assert_published_once(client, chaos_settings, ids)
    # one email per report: each report's own recipient exactly once
    wait_for(lambda: len(chaos_inbox.messages) >= len(ids), timeout=30)
    time.sleep(1.0)  # a duplicate delivery would land within this
    recipients = sorted(r for _, rcpts, _ in chaos_inbox.messages for r in rcpts)
    assert recipients == sorted(f"r{i}@example.com" for i in range(20)), recipients


def test_sigterm_stops_gracefully_and_every_report_completes_once(app, client, chaos_settings, start_worker,
                                                                  sweeper_loop, chaos_inbox):
    ids = [client.post("/reports", json={"notify_email": f"t{i}@example.com",
                                         "params": {"simulate": {"sleep_seconds": 2}}}).get_json()["id"]
           for i in range(4)]
    worker = start_worker(threads=2)
    mine = wait_for(lambda: worker_ids(worker), timeout=30)
    in_flight = wait_for(lambda: {r for r, w, _ in running_reports(app) if w in mine}, timeout=30)
    # graceful: in-flight reports finish, the rest go back to the queue; exit 0 well inside the lock time
    assert worker.stop_gracefully(timeout=15) == 0, worker.log_text()[-3000:]
    for rid in in_flight:
        body = client.get(f"/reports/{rid}").get_json()
        assert body["status"] == "READY" and body["worker"] in mine, (rid, body["status"], body["worker"])
    start_worker(threads=2)
    for rid in ids:
        assert wait_status(client, rid, {"READY", "FAILED"}, timeout=60)["status"] == "READY"
    for rid in ids:
        kinds = [e["kind"] for e in _events(client, rid)]
        assert kinds.count("completed") == 1 and "stalled" not in kinds, (rid, kinds)
        assert kinds.count("claimed") == 1, (rid, kinds)  # nothing was interrupted and run again
    assert_published_once(client, chaos_settings, ids)
    wait_for(lambda: len(chaos_inbox.messages) >= len(ids), timeout=30)
    assert sorted(r for _, rcpts, _ in chaos_inbox.messages for r in rcpts) == sorted(
        f"t{i}@example.com" for i in range(4))


def test_retry_waiting_out_its_delay_in_a_killed_worker_is_recovered(client, settings, procs, tmp_path,
                                                                     sweeper_loop, redis_client):
    from tests.chaos.conftest import CHAOS
    from tests.chaos.harness import worker_proc

    slow_retry = settings(**{**CHAOS, "retry_delays_ms": (8000, 8000, 8000)})
    sweeper_loop.settings = slow_retry
    first = worker_proc(slow_retry, tmp_path / "w1.log").start()
    procs.append(first)
    report_id = client.post("/reports", json={"params": {"simulate": {"fail_times": 1}}}).get_json()["id"]
    # The first attempt fails; Dramatiq keeps the retry in this worker's memory for 8 s.
    wait_for(lambda: any(e["kind"] == "attempt_failed" for e in _events(client, report_id)), timeout=30)
    # Kill only once the worker has fetched the delayed retry into memory (off the DQ list, still unacked).
    wait_for(lambda: redis_client.hlen("dramatiq:reports.DQ.msgs") == 1
             and redis_client.llen("dramatiq:reports.DQ") == 0, timeout=10)
    first.kill()
    # The sweep releases the dead worker's message before a second worker exists: a live worker's own Dramatiq
    # maintenance (same 3 s dead-worker threshold) could otherwise requeue it first, with no "requeued" event.
    wait_for(lambda: any(e["kind"] == "requeued" and "dead worker" in (e["message"] or "")
                         for e in _events(client, report_id)), timeout=30)
    second = worker_proc(slow_retry, tmp_path / "w2.log").start()
    procs.append(second)
    final = wait_status(client, report_id, {"READY", "FAILED"}, timeout=60)
    assert final["status"] == "READY" and final["attempts"] == 2
    events = _events(client, report_id)
    assert [e["kind"] for e in events].count("completed") == 1
    assert any(e["kind"] == "requeued" and "dead worker" in (e["message"] or "") for e in events), \
        [(e["kind"], e["message"]) for e in events]
