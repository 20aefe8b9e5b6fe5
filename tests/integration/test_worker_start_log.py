"""Processes start quietly: the worker (`dramatiq reportsvc.tasks`) and the scheduler (`flask --app app
scheduler`) print no Alembic "setup plugin" lines, the scheduler no APScheduler "Adding job" line per job."""

from __future__ import annotations

import time

from tests.chaos.harness import Proc, scheduler_proc, worker_proc

READY = "ready for action"


def _start_log(proc: Proc, ready: str) -> str:
    """Everything `proc` printed up to and including the line that says it is ready (then it is stopped)."""
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while ready not in proc.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = proc.log_text()
    finally:
        proc.terminate(timeout=20)
    assert ready in log, log[-2000:]  # the whole start-up happened (imports, app, broker), then was read
    return log


def test_a_worker_start_log_has_no_alembic_plugin_lines(base_settings, tmp_path):  # type: ignore[no-untyped-def]
    log = _start_log(worker_proc(base_settings, tmp_path / "worker.log", threads=1), READY)
    noisy = [line for line in log.splitlines() if "setup plugin" in line or "alembic" in line.lower()]
    assert noisy == [], noisy


def test_a_scheduler_start_log_has_no_alembic_or_adding_job_lines(base_settings, tmp_path):  # type: ignore[no-untyped-def]
    log = _start_log(scheduler_proc(base_settings, tmp_path / "scheduler.log"), "scheduler started")
    noisy = [line for line in log.splitlines()
             if "setup plugin" in line or "alembic" in line.lower() or "Adding job" in line]
    assert noisy == [], noisy
