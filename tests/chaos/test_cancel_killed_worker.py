"""Cancel a RUNNING report whose worker was killed: the stall sweep ends it CANCELLED, never requeued."""

from __future__ import annotations

import time

import pytest

from tests.conftest import wait_for, wait_status

pytestmark = pytest.mark.slow


def test_cancel_with_the_worker_killed_ends_cancelled_by_the_sweep(client, chaos_settings, start_worker,
                                                                    sweeper_loop):
    worker = start_worker()
    report_id = client.post("/reports", json={"params": {"simulate": {"sleep_seconds": 30}}}).get_json()["id"]
    wait_for(lambda: (s := client.get(f"/reports/{report_id}/status").get_json())["status"] == "RUNNING"
             and s["progress"] > 0, timeout=30)
    worker.kill()
    response = client.delete(f"/reports/{report_id}")
    assert response.status_code == 202 and response.get_json()["cancel_requested"] is True
    asked = time.monotonic()
    final = wait_status(client, report_id, {"CANCELLED", "READY", "FAILED"}, timeout=20)
    assert final["status"] == "CANCELLED"
    assert time.monotonic() - asked < chaos_settings.report_lock_seconds + 3
    events = client.get(f"/reports/{report_id}").get_json()["events"]
    kinds = [e["kind"] for e in events]
    assert "stalled" not in kinds and "requeued" not in kinds and kinds[-1] == "cancelled"
    assert events[-1]["detail"]["by"] == "stall sweep" and "went quiet" in events[-1]["message"]
    assert list(chaos_settings.storage_dir.rglob("*.pdf")) == []
    # A fresh worker picking up the dead worker's redelivered message skips the CANCELLED report.
    start_worker()
    time.sleep(2)
    assert client.get(f"/reports/{report_id}/status").get_json()["status"] == "CANCELLED"
