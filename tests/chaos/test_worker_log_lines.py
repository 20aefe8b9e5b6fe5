"""WORKER_LOG_LINES: one line per job in a real worker's own log, every step still in the report's log."""

from __future__ import annotations

import dataclasses

import pytest

from tests.chaos.conftest import CHAOS
from tests.chaos.harness import worker_proc
from tests.conftest import wait_for, wait_status

pytestmark = pytest.mark.slow

STEPS = ("PENDING -> RUNNING", "active (attempt 1", "[Phase 1/4]", "[Phase 4/4]", "RUNNING -> READY", "email sent to")


def _run_one(client, chaos_settings, settings, procs, tmp_path, lines: str) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """One report through a `dramatiq` subprocess with WORKER_LOG_LINES=`lines`: its id and the worker's log lines
    that name it."""
    hotpath = dataclasses.replace(chaos_settings.hotpath, worker_log_lines=lines)
    current = settings(**CHAOS, email_host="127.0.0.1", email_port=chaos_settings.email_port, hotpath=hotpath)
    proc = worker_proc(current, tmp_path / f"worker-{lines}.log").start()
    procs.append(proc)
    report_id = client.post("/reports", json={"notify_email": "ops@example.com"}).get_json()["id"]
    wait_status(client, report_id, {"READY"}, timeout=30)
    wait_for(lambda: "completed in" in proc.log_text(), timeout=15)
    proc.terminate()
    return report_id, [line for line in proc.log_text().splitlines() if report_id in line]


def _report_log(client, report_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [line["message"] for line in client.get(f"/reports/{report_id}/logs").get_json()["items"]]


def test_summary_writes_one_line_per_job_and_keeps_every_step_in_the_report_log(client, chaos_settings, settings,
                                                                                 procs, tmp_path):
    report_id, lines = _run_one(client, chaos_settings, settings, procs, tmp_path, "summary")
    assert len(lines) == 1, lines
    assert "completed in" in lines[0] and "(attempt 1, email sent)" in lines[0]
    kept = wait_for(lambda: (found := _report_log(client, report_id)) and "completed in" in found[-1] and found)
    for step in STEPS[1:]:  # the claim's line is logged before the capture starts
        assert any(step in message for message in kept), (step, kept)


def test_verbose_writes_every_step_to_the_worker_log(client, chaos_settings, settings, procs, tmp_path):
    _, lines = _run_one(client, chaos_settings, settings, procs, tmp_path, "verbose")
    for step in (*STEPS, "completed in"):
        assert any(step in line for line in lines), (step, lines)
    assert len(lines) >= 9, lines
