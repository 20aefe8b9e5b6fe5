"""The worker starts quietly: `dramatiq reportsvc.tasks` prints no Alembic "setup plugin" lines."""

from __future__ import annotations

import time

from tests.chaos.harness import worker_proc

READY = "ready for action"


def test_a_worker_start_log_has_no_alembic_plugin_lines(base_settings, tmp_path):  # type: ignore[no-untyped-def]
    worker = worker_proc(base_settings, tmp_path / "worker.log", threads=1).start()
    try:
        deadline = time.monotonic() + 60
        while READY not in worker.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        log = worker.log_text()
    finally:
        worker.terminate(timeout=20)
    assert READY in log, log[-2000:]  # the whole start-up happened (imports, app, broker), then was read
    noisy = [line for line in log.splitlines() if "setup plugin" in line or "alembic" in line.lower()]
    assert noisy == [], noisy
