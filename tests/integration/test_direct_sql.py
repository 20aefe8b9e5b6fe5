"""WORKER_DIRECT_SQL: the worker's fenced statements on the psycopg connection write what the session path writes."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy import text

from reportsvc.state import lifecycle, report_logs
from tests.db_faults import kill_backends_since


@pytest.fixture(params=[True, False], ids=["direct", "session"])
def direct_sql(request, settings):  # type: ignore[no-untyped-def]
    """Both values of WORKER_DIRECT_SQL."""
    from reportsvc.config import get_settings

    settings(hotpath=dataclasses.replace(get_settings().hotpath, worker_direct_sql=request.param))
    return request.param


def _pending(app) -> uuid.UUID:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    report_id = uuid.uuid4()
    with app.app_context():
        db.session.execute(text(
            "INSERT INTO report_requests (id, status, progress, progress_message, report_type, title, params,"
            " notify_emails) VALUES (:i, 'PENDING', 0, 'Queued', 'operations', 'T', '{\"a\": 1}',"
            " '[\"x@example.com\", \"y@example.com\"]')"), {"i": report_id})
        db.session.commit()
    return report_id


def _row_and_events(app, report_id):  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    with app.app_context():
        row = db.session.execute(text("SELECT * FROM report_requests WHERE id = :i"), {"i": report_id}).one()
        events = db.session.execute(text("SELECT kind, from_status, to_status, detail FROM report_events"
                                         " WHERE report_id = :i ORDER BY id"), {"i": report_id}).all()
        db.session.rollback()
    return row, [tuple(e) for e in events]


def test_claim_progress_heartbeat_finish_write_the_same_rows_and_events(app, direct_sql):
    report_id = _pending(app)
    with app.app_context():
        claim = lifecycle.claim(report_id, worker="h:1", message_id="m-1")
        assert claim is not None and claim.params == {"a": 1} and claim.attempts == 1
        assert claim.notify_email == "x@example.com" and claim.notify_emails == ("x@example.com", "y@example.com")
        assert lifecycle.claim(report_id, worker="h:2", message_id="m-2") is None  # not PENDING any more
        assert lifecycle.progress(report_id, claim.run_id, 40, "Processing") == "held"
        assert lifecycle.heartbeat(report_id, claim.run_id) == "held"
        assert lifecycle.heartbeat_many([(report_id, claim.run_id)]) == {(report_id, claim.run_id): "held"}
        assert lifecycle.heartbeat(report_id, uuid.uuid4()) == "lost"  # another run id is fenced out
        assert not lifecycle.finish(report_id, uuid.uuid4(), publish=lambda: ("k", 1), expected=("k", 1))
        assert lifecycle.finish(report_id, claim.run_id, publish=lambda: ("k", 10), expected=("k", 10),
                                type_version="1", sha256="ab")
        assert lifecycle.heartbeat(report_id, claim.run_id) == "lost"  # READY: no claim to beat
    row, events = _row_and_events(app, report_id)
    assert (row.status, row.progress, row.file_path, row.file_size, row.file_sha256, row.worker, row.message_id) == (
        "READY", 100, "k", 10, "ab", "h:1", "m-1")
    assert events == [
        ("claimed", "PENDING", "RUNNING", {"worker": "h:1", "run_id": str(claim.run_id), "message_id": "m-1"}),
        ("completed", "RUNNING", "READY", {"file_size": 10, "run_id": str(claim.run_id)}),
    ]


def test_heartbeat_many_tells_held_cancel_and_lost_apart(app, direct_sql):
    from reportsvc.extensions import db

    held, cancelled = _pending(app), _pending(app)
    with app.app_context():
        a = lifecycle.claim(held, worker="h:1", message_id=None)
        b = lifecycle.claim(cancelled, worker="h:1", message_id=None)
        assert a is not None and b is not None
        db.session.execute(text("UPDATE report_requests SET cancel_requested_at = now() WHERE id = :i"),
                           {"i": cancelled})
        db.session.commit()
        stranger = (held, uuid.uuid4())
        assert lifecycle.heartbeat_many([(held, a.run_id), (cancelled, b.run_id), stranger]) == {
            (held, a.run_id): "held", (cancelled, b.run_id): "cancel", stranger: "lost"}
        assert lifecycle.progress(cancelled, b.run_id, 50, "x") == "cancel"


def test_finish_records_what_publish_wrote_when_it_differs_from_the_expected_file(app, direct_sql):
    report_id = _pending(app)
    with app.app_context():
        claim = lifecycle.claim(report_id, worker="h:1", message_id=None)
        assert claim is not None
        assert lifecycle.finish(report_id, claim.run_id, publish=lambda: ("other-key", 22), expected=("k", 10))
    row, events = _row_and_events(app, report_id)
    assert (row.file_path, row.file_size) == ("other-key", 22)
    assert events[-1] == ("completed", "RUNNING", "READY", {"file_size": 22, "run_id": str(claim.run_id)})


def test_a_publish_that_raises_leaves_the_claim_running_and_unpublished(app, direct_sql):
    report_id = _pending(app)

    def broken() -> tuple[str, int]:
        raise OSError("store down")

    with app.app_context():
        claim = lifecycle.claim(report_id, worker="h:1", message_id=None)
        assert claim is not None
        with pytest.raises(OSError):
            lifecycle.finish(report_id, claim.run_id, publish=broken, expected=("k", 1))
        assert lifecycle.heartbeat(report_id, claim.run_id) == "held"  # the connection went back usable
    row, events = _row_and_events(app, report_id)
    assert (row.status, row.file_path) == ("RUNNING", None)
    assert [e[0] for e in events] == ["claimed"]


def test_report_log_lines_are_appended_in_one_statement(app, direct_sql):
    from datetime import UTC, datetime

    report_id = _pending(app)
    lines = [{"report_id": report_id, "attempt": 1, "logged_at": datetime.now(UTC), "level": "INFO", "levelno": 20,
              "logger": "t", "message": f"line {n}", "traceback": "tb" if n == 2 else None, "worker": "h:1"}
             for n in range(3)]
    with app.app_context():
        report_logs.append(lines)
        stored = report_logs.page(report_id, after=None, limit=10).items
    assert [(s.message, s.traceback, s.levelno) for s in stored] == [("line 0", None, 20), ("line 1", None, 20),
                                                                      ("line 2", "tb", 20)]


def test_report_log_lines_round_trip_every_column_exactly(app, direct_sql):
    from datetime import UTC, datetime, timedelta, timezone

    report_id = _pending(app)
    awkward = 'quotes " \' back\\slash\ttab\nnewline \x01 unicode é 漢字 🚀 \u2028 {"json": [1]} %(x)s'
    trace = "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: é 🚀\n"
    stamps = [datetime(2026, 12, 5, 13, 59, 1, 123456, tzinfo=UTC),
              datetime(2026, 12, 5, 19, 29, 1, 7, tzinfo=timezone(timedelta(hours=5, minutes=30))),
              datetime(1999, 1, 1, 0, 0, 0, 0, tzinfo=timezone(timedelta(hours=-8)))]
    lines = [{"report_id": report_id, "attempt": 3, "logged_at": stamps[0], "level": "ERROR", "levelno": 40,
              "logger": "reportsvc.é", "message": awkward, "traceback": trace, "worker": None},
             {"report_id": report_id, "attempt": 3, "logged_at": stamps[1], "level": "INFO", "levelno": 20,
              "logger": "t", "message": "", "traceback": None, "worker": "host:1 🚀"},
             {"report_id": report_id, "attempt": 4, "logged_at": stamps[2], "level": "WARNING", "levelno": 30,
              "logger": "t", "message": "x" * 10_000, "traceback": "", "worker": "h"}]
    with app.app_context():
        report_logs.append(lines)
        stored = report_logs.page(report_id, after=None, limit=10).items
    columns = ("report_id", "attempt", "logged_at", "level", "levelno", "logger", "message", "traceback", "worker")
    assert [{name: getattr(s, name) for name in columns} for s in stored] == lines


def test_a_killed_database_connection_fails_at_most_one_direct_statement(app):
    from datetime import UTC, datetime

    import psycopg

    from reportsvc.extensions import db

    report_id = _pending(app)
    started = datetime.now(UTC)  # the database runs on this host: one clock
    with app.app_context():
        db.engine.dispose()  # a fresh pool: the connections opened from here on are the app's own
        claim = lifecycle.claim(report_id, worker="h:1", message_id=None)
        assert claim is not None
    assert kill_backends_since(app, started) >= 1
    outcomes = []
    with app.app_context():
        for _ in range(3):
            try:
                outcomes.append(lifecycle.heartbeat(report_id, claim.run_id))
            except psycopg.OperationalError as exc:
                outcomes.append(type(exc).__name__)
    assert outcomes[1:] == ["held", "held"], outcomes
