"""The default retry schedule, kept by the worker exactly as shipped: `dramatiq reportsvc.tasks`, no flags."""

from __future__ import annotations

import sys
from datetime import datetime

import pytest

from tests.chaos.harness import Proc, process_env
from tests.conftest import wait_status

pytestmark = pytest.mark.slow


def test_default_schedule_retries_at_2_4_8_seconds_then_fails(client, settings, procs, tmp_path):
    shipped = settings()  # the defaults: REPORT_RETRY_DELAYS_MS 2000,4000,8000 and three retries
    assert shipped.retry_delays_ms == (2000, 4000, 8000) and shipped.report_max_retries == 3
    # Dramatiq's own defaults too (its CLI has no worker-timeout flag; only this variable changes it)
    env = {k: v for k, v in process_env(shipped).items() if k.lower() != "dramatiq_worker_timeout"}
    worker = Proc([sys.executable, "-m", "dramatiq", "reportsvc.tasks"], env, tmp_path / "worker.log").start()
    procs.append(worker)
    report_id = client.post("/reports", json={"params": {"simulate": {"fail_times": 9}}}).get_json()["id"]
    final = wait_status(client, report_id, {"READY", "FAILED"}, timeout=60)
    assert final["status"] == "FAILED" and final["attempts"] == 4, final
    events = client.get(f"/reports/{report_id}").get_json()["events"]
    claimed = [datetime.fromisoformat(e["created_at"]) for e in events if e["kind"] == "claimed"]
    failed = [e for e in events if e["kind"] == "attempt_failed"]
    assert len(claimed) == 4 and len(failed) == 4, [e["kind"] for e in events]
    # The schedule the worker computed: each retry due 2, 4, 8 s after its attempt failed; the last none.
    assert [f["detail"]["retry_in_ms"] for f in failed] == [2000, 4000, 8000, None], failed
    # And kept: each retry started no earlier than due and at most 10 % late, counted from the moment the
    # attempt failed (the worker's clock, recorded as failed_at), not from when the failure's bookkeeping
    # (timeline row, log capture, heartbeat stop) committed: under load that bookkeeping is slow, and the
    # retry's due time does not move with it (see ExactRetries).
    gaps = [(claimed[i + 1] - datetime.fromisoformat(failed[i]["detail"]["failed_at"])).total_seconds()
            for i in range(3)]
    for gap, expected in zip(gaps, (2.0, 4.0, 8.0), strict=True):
        assert expected <= gap <= expected * 1.10, (gaps, _timeline(worker.log_text()))
    assert failed[-1]["to_status"] == "FAILED" and failed[-1]["message"] == "retries exhausted", failed[-1]


def _timeline(log: str) -> str:
    """The worker log lines that place each retry in time (for a failure message)."""
    keys = ("Retrying", "-> RUNNING", "delay queue", "Enqueueing", "onto work queue", "Restarting", "CRITICAL")
    return "\n".join(line[:200] for line in log.splitlines() if any(k in line for k in keys))
