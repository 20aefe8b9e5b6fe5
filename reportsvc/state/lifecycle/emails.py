"""The email claim (called by reportsvc.worker.notify): at most one delivery of a report's email at a time,
and the record of that delivery's outcome, whose commit ends the claim."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from reportsvc import metrics
from reportsvc.state import direct
from reportsvc.state.lifecycle._common import _event, _session

#: Mixed into every email-claim key, so these advisory locks stay clear of any other advisory-lock user.
_EMAIL_CLAIM_NAMESPACE = b"reportsvc:email-claim:"
# Two statements, in this order, never one: under READ COMMITTED each statement reads the snapshot taken when
# it starts, so only a check that starts after the lock was granted sees the "email_sent" that the previous
# holder committed as it let go.
_TRY_EMAIL_CLAIM_SQL = "SELECT pg_try_advisory_xact_lock(CAST(:key AS bigint))"
_EMAIL_SENT_SQL = "SELECT id FROM report_events WHERE report_id = :report_id AND kind = 'email_sent' LIMIT 1"
#: The outcome's timeline entry on the direct path (the session path inserts it with `_event`: the same row).
_RECORD_SQL = ("INSERT INTO report_events (report_id, kind, message, detail)"
               " VALUES (:report_id, :kind, :message, CAST(:detail AS jsonb))")
_TRY_EMAIL_CLAIM = text(_TRY_EMAIL_CLAIM_SQL).bindparams(bindparam("key"))
_EMAIL_SENT = text(_EMAIL_SENT_SQL).bindparams(bindparam("report_id"))
_TRY_EMAIL_CLAIM_DIRECT, _EMAIL_SENT_DIRECT, _RECORD_DIRECT = (
    direct.pyformat(sql) for sql in (_TRY_EMAIL_CLAIM_SQL, _EMAIL_SENT_SQL, _RECORD_SQL))


def _email_claim_key(report_id: uuid.UUID) -> int:
    """The report's signed 64-bit advisory-lock key for its email (a pair of reports collides with p = 2^-64)."""
    digest = hashlib.blake2b(_EMAIL_CLAIM_NAMESPACE + report_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@dataclass
class EmailClaim:
    """One delivery's hold on a report's email: `state` says what it found, `record` writes the outcome."""

    report_id: uuid.UUID
    #: "claimed" (send, then `record`), "busy" (another delivery holds it) or "sent" (an email_sent exists).
    state: str
    _conn: psycopg.Connection[Any] | None = None  # the claim's transaction on the direct path
    _session: Session | None = None  # ... or on the session path
    recorded: bool = False

    def record(self, kind: str, message: str, detail: dict[str, Any]) -> None:
        """Put the claimed delivery's outcome on the timeline (email_sent, email_failed, email_skipped).

        Its commit writes the event and releases the claim in the same instant, so the next holder's check
        (run after it got the lock) sees an "email_sent" that was written."""
        if self._conn is not None:
            direct.run(self._conn, _RECORD_DIRECT, {"report_id": self.report_id, "kind": kind, "message": message,
                                                    "detail": direct.as_json(detail)})
            self._conn.commit()
            self.recorded = True
            metrics.count_committed(self.report_id, kind, None, detail)
            return
        session = self._session
        assert session is not None
        try:
            _event(session, self.report_id, kind, message=message, detail=detail)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        self.recorded = True


@contextmanager
def email_claim(report_id: uuid.UUID) -> Iterator[EmailClaim]:
    """Hold the report's email claim for the block; the claim's `state` is "claimed", "busy" or "sent".

    The claim is a transaction-scoped advisory lock (`pg_try_advisory_xact_lock`) taken on the worker's
    direct connection (WORKER_DIRECT_SQL) or the caller's session. Under "claimed" the caller sends, then
    records the outcome with `EmailClaim.record`: that commit writes the event and releases the lock in the
    same instant. Nothing to clean up after a crash: PostgreSQL drops the lock with the dead process's
    connection, and a block that leaves without recording is rolled back here, which releases it too. (A
    marker row would outlive a crash and need a lease; a Redis key would need a TTL longer than any SMTP
    conversation, which Flask-Mail does not bound.)
    """
    key = {"key": _email_claim_key(report_id)}
    found = {"report_id": report_id}
    if direct.enabled():
        with direct.transaction() as conn:
            locked = direct.one(conn, _TRY_EMAIL_CLAIM_DIRECT, key)
            claim = EmailClaim(report_id, _state(bool(locked and locked[0]),
                                                 lambda: direct.one(conn, _EMAIL_SENT_DIRECT, found) is not None),
                               _conn=conn)
            if claim.state != "claimed":
                conn.rollback()  # hold nothing while the caller only logs
            yield claim  # an exception here: direct.transaction rolls back, which releases the lock
            if not claim.recorded:
                conn.rollback()
        return
    session = _session()
    try:
        claim = EmailClaim(report_id, _state(bool(session.execute(_TRY_EMAIL_CLAIM, key).scalar()),
                                             lambda: session.execute(_EMAIL_SENT, found).first() is not None),
                           _session=session)
        if claim.state != "claimed":
            session.rollback()  # hold nothing while the caller only logs
    except BaseException:
        session.rollback()
        raise
    try:
        yield claim
    finally:
        session.rollback()  # a no-op after the block's record() committed; otherwise this releases the lock


def _state(locked: bool, sent: Callable[[], bool]) -> str:
    """What a claimant found: busy without the lock; with it, "sent" when `sent()` (run only then) is true."""
    if not locked:
        return "busy"
    return "sent" if sent() else "claimed"
