"""REPORT_LOG_BATCH_MS: finished attempts' lines written by one thread, several reports in one INSERT, none lost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from reportsvc.state import report_logs
from reportsvc.worker import report_log_writer
from tests.conftest import wait_for
from tests.db_faults import kill_backends_since
from tests.integration.test_direct_sql import _pending


def _lines(report_id: uuid.UUID, n: int, attempt: int = 1) -> list[dict[str, Any]]:
    return [{"report_id": report_id, "attempt": attempt, "logged_at": datetime.now(UTC), "level": "INFO",
             "levelno": 20, "logger": "t", "message": f"{report_id} line {i}", "traceback": None, "worker": "h:1"}
            for i in range(n)]


def _stored(app, report_id: uuid.UUID) -> list[str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return [line.message for line in report_logs.page(report_id, after=None, limit=100).items]


@pytest.fixture
def no_writer():  # type: ignore[no-untyped-def]
    """No process writer before or after the test (an in-process worker of another test may have started one)."""
    report_log_writer.slot.stop()
    yield
    report_log_writer.slot.stop()


def test_several_reports_lines_are_written_in_one_insert(app, no_writer, monkeypatch):
    calls: list[int] = []
    real_append = report_logs.append
    monkeypatch.setattr(report_logs, "append", lambda rows: (calls.append(len(rows)), real_append(rows))[1])
    reports = [_pending(app) for _ in range(3)]
    report_log_writer.slot.start(60_000)  # a write a minute: the test's flush is the only one
    for report_id in reports:
        assert report_log_writer.hand(_lines(report_id, 4)) is True
    report_log_writer.flush()
    assert calls == [12]
    for report_id in reports:
        assert _stored(app, report_id) == [f"{report_id} line {i}" for i in range(4)]


def test_the_thread_writes_held_lines_after_the_interval(app, no_writer):
    report_id = _pending(app)
    report_log_writer.slot.start(10)
    report_log_writer.hand(_lines(report_id, 3))
    assert wait_for(lambda: len(_stored(app, report_id)) == 3, timeout=10)


def test_stop_writes_what_is_held(app, no_writer):
    report_id = _pending(app)
    report_log_writer.slot.start(60_000)
    report_log_writer.hand(_lines(report_id, 5))
    report_log_writer.slot.stop()
    assert _stored(app, report_id) == [f"{report_id} line {i}" for i in range(5)]
    assert report_log_writer.hand(_lines(report_id, 1)) is False  # stopped: the job writes its own again


def test_a_failed_write_keeps_the_lines_in_order_for_the_next(app, no_writer):
    from reportsvc.extensions import db
    from reportsvc.state import direct

    first, second = _pending(app), _pending(app)
    writer = report_log_writer.Writer(60)  # not started: the test drives its writes
    started = datetime.now(UTC)
    with app.app_context():
        db.engine.dispose()  # a fresh pool: the connection opened next is the app's own
        with direct.transaction() as conn:
            direct.run(conn, "SELECT 1", {})
    assert kill_backends_since(app, started) >= 1
    writer.hand(_lines(first, 2))
    writer.hand(_lines(second, 2))
    assert writer.flush() is False
    assert _stored(app, first) == [] and _stored(app, second) == []
    assert writer.flush() is True
    assert _stored(app, first) == [f"{first} line {i}" for i in range(2)]
    assert _stored(app, second) == [f"{second} line {i}" for i in range(2)]
