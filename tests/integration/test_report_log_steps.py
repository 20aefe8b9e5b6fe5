"""A job's step lines (reportsvc.logs.step): under WORKER_LOG_LINES=summary they go straight into the report's log
capture without a log record, the same row a record would have made; under verbose they are logged as before."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from typing import Any

import pytest

from reportsvc import logs
from reportsvc.worker import report_log

log = logging.getLogger("reportsvc.worker")


@pytest.fixture
def lines(settings):  # type: ignore[no-untyped-def]
    """Set WORKER_LOG_LINES."""
    from reportsvc.config import get_settings

    def use(value: str) -> None:
        settings(hotpath=dataclasses.replace(get_settings().hotpath, worker_log_lines=value))

    return use


def _captured(cap: int = 100) -> tuple[report_log.Capture, Any]:
    capture = report_log.Capture(uuid.uuid4(), 2, "h:1", cap=cap, already=0)
    report_log._local.capture = capture
    return capture, lambda: setattr(report_log._local, "capture", None)


def _comparable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "logged_at"}


def test_summary_keeps_the_step_in_the_report_log_and_builds_no_record(app, lines, caplog):
    lines("summary")
    report_log.install()
    capture, done = _captured()
    try:
        before = time.time()
        with caplog.at_level(logging.DEBUG):
            logs.step(log, "Job %s [Phase %d/%d] %s", "r-1", 1, 4, "Fetching data")
        assert caplog.records == []  # no handler saw a record: none was made
        log.info("Job %s [Phase %d/%d] %s", "r-1", 1, 4, "Fetching data", extra={"job_step": True})  # as before
    finally:
        done()
    stepped, logged = capture.rows
    assert _comparable(stepped) == _comparable(logged)
    assert stepped["message"] == "Job r-1 [Phase 1/4] Fetching data" and stepped["level"] == "INFO"
    assert stepped["levelno"] == logging.INFO and stepped["logger"] == "reportsvc.worker"
    assert stepped["attempt"] == 2 and stepped["worker"] == "h:1"
    assert before - 1 <= stepped["logged_at"].timestamp() <= logged["logged_at"].timestamp()


def test_summary_steps_count_against_the_cap(app, lines):
    lines("summary")
    capture, done = _captured(cap=2)
    try:
        for i in range(5):
            logs.step(log, "step %d", i)
    finally:
        done()
    assert [row["message"] for row in capture.rows] == ["step 0", "step 1"] and capture.dropped == 3


def test_a_step_outside_a_report_or_below_the_level_is_nowhere(app, lines):
    lines("summary")
    logs.step(log, "no capture on this thread")  # nothing to do, nothing raised
    capture, done = _captured()
    quiet = logging.getLogger("reportsvc.worker.quiet-test")
    quiet.setLevel(logging.WARNING)
    try:
        logs.step(quiet, "below the logger's level")
    finally:
        done()
    assert capture.rows == []


def test_verbose_logs_the_step_as_before(app, lines, caplog):
    lines("verbose")
    report_log.install()
    capture, done = _captured()
    try:
        with caplog.at_level(logging.INFO):
            logs.step(log, "Job %s active (attempt %d, message %s)", "r-1", 1, "m-1")
    finally:
        done()
    assert [(r.getMessage(), getattr(r, "job_step", False)) for r in caplog.records] == [
        ("Job r-1 active (attempt 1, message m-1)", True)]
    assert [row["message"] for row in capture.rows] == ["Job r-1 active (attempt 1, message m-1)"]
