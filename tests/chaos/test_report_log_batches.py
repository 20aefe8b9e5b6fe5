"""REPORT_LOG_BATCH_MS in a real worker: a graceful stop writes every line the process's writer still held."""

from __future__ import annotations

import dataclasses

import pytest

from tests.chaos.conftest import CHAOS
from tests.chaos.harness import worker_proc
from tests.conftest import wait_for, wait_status

pytestmark = pytest.mark.slow


def test_every_line_is_in_the_report_log_after_a_graceful_stop(client, chaos_settings, settings, procs, tmp_path):
    # The longest batch interval: the finished attempts' last lines are most likely still held at the SIGTERM.
    hotpath = dataclasses.replace(chaos_settings.hotpath, report_log_batch_ms=1000, worker_log_lines="summary")
    proc = worker_proc(settings(**CHAOS, hotpath=hotpath), tmp_path / "worker.log").start()
    procs.append(proc)
    ids = [client.post("/reports", json={}).get_json()["id"] for _ in range(4)]
    for report_id in ids:
        wait_status(client, report_id, {"READY"}, timeout=30)
    wait_for(lambda: proc.log_text().count("completed in") >= len(ids), timeout=15)
    assert proc.terminate() is not None  # exited within its graceful stop
    for report_id in ids:
        messages = [line["message"] for line in client.get(f"/reports/{report_id}/logs").get_json()["items"]]
        assert any("active (attempt 1" in m for m in messages), messages
        assert "completed in" in messages[-1], messages
