"""direct.autocommit(): one statement commits as it runs, and the pooled connection goes back as it came."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import text

from reportsvc.state import direct, lifecycle, report_logs


def _pending(app) -> uuid.UUID:  # type: ignore[no-untyped-def]
    from reportsvc.extensions import db

    report_id = uuid.uuid4()
    with app.app_context():
        db.session.execute(text("INSERT INTO report_requests (id, status, progress, report_type, params)"
                                " VALUES (:i, 'PENDING', 0, 'operations', '{}')"), {"i": report_id})
        db.session.commit()
    return report_id


def test_a_statement_in_autocommit_opens_no_transaction_and_is_seen_at_once(app):
    report_id = _pending(app)
    with app.app_context():
        from reportsvc.extensions import db

        with direct.autocommit() as conn:
            direct.run(conn, "UPDATE report_requests SET progress_message = 'seen' WHERE id = %(i)s", {"i": report_id})
            # No BEGIN went out: the connection is idle, not inside a transaction waiting for a COMMIT.
            assert conn.info.transaction_status == TransactionStatus.IDLE
            # Another connection sees the row before the block ends: it committed as it ran.
            seen = db.session.execute(text("SELECT progress_message FROM report_requests WHERE id = :i"),
                                      {"i": report_id}).scalar()
            db.session.rollback()
            assert seen == "seen"


def test_the_pooled_connection_goes_back_out_of_autocommit_even_after_a_failed_statement(app):
    with app.app_context():
        from reportsvc.extensions import db

        db.engine.dispose()
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            report_logs.append([{"report_id": uuid.uuid4(), "attempt": 1, "logged_at": datetime.now(UTC),
                                 "level": "INFO", "levelno": 20, "logger": "t", "message": "m", "traceback": None,
                                 "worker": None}])
        pooled = db.engine.raw_connection()
        try:
            conn = pooled.driver_connection
            assert conn is not None and conn.autocommit is False
        finally:
            pooled.close()
        # The session's transactions on the same pool still roll back: nothing was committed behind their back.
        report_id = _pending(app)
        db.session.execute(text("UPDATE report_requests SET progress = 7 WHERE id = :i"), {"i": report_id})
        db.session.rollback()
        assert db.session.execute(text("SELECT progress FROM report_requests WHERE id = :i"),
                                  {"i": report_id}).scalar() == 0
        db.session.rollback()


def test_claim_and_heartbeat_in_autocommit_keep_their_fencing(app):
    report_id = _pending(app)
    with app.app_context():
        claim = lifecycle.claim(report_id, worker="h:1", message_id="m-1")
        assert claim is not None
        assert lifecycle.claim(report_id, worker="h:2", message_id="m-2") is None
        assert lifecycle.heartbeat(report_id, claim.run_id) == "held"
        assert lifecycle.heartbeat(report_id, uuid.uuid4()) == "lost"
        assert lifecycle.progress(report_id, uuid.uuid4(), 50, "x") == "lost"


def test_a_failed_switch_to_autocommit_still_returns_the_connection_to_the_pool(app):
    """The switch is inside the guarded block: a connection that cannot switch (here: one handed out inside a
    transaction) is cleaned up and checked back in, not left checked out."""
    from sqlalchemy import event

    from reportsvc.extensions import db

    def begin_on_checkout(dbapi_conn, record, proxy):  # type: ignore[no-untyped-def]
        dbapi_conn.execute("SELECT 1")  # opens a transaction: psycopg refuses to change autocommit now

    with app.app_context():
        db.engine.dispose()
        before = db.engine.pool.checkedout()
        event.listen(db.engine, "checkout", begin_on_checkout)
        try:
            with pytest.raises(psycopg.ProgrammingError) as failed, direct.autocommit():
                pass
        finally:
            event.remove(db.engine, "checkout", begin_on_checkout)
        assert "autocommit" in str(failed.value)
        assert db.engine.pool.checkedout() == before  # while the traceback (and its frames) are still held
        db.engine.dispose()
