"""The email claim (called by reportsvc.worker.notify): at most one delivery of a report's email at a time."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import bindparam, select, text

from reportsvc.state.lifecycle._common import E, _session

#: Mixed into every email-claim key, so these advisory locks stay clear of any other advisory-lock user.
_EMAIL_CLAIM_NAMESPACE = b"reportsvc:email-claim:"
_TRY_EMAIL_CLAIM = text("SELECT pg_try_advisory_xact_lock(:key)")
_EMAIL_SENT = select(E.c.id).where(E.c.report_id == bindparam("report_id"), E.c.kind == "email_sent").limit(1)


def _email_claim_key(report_id: uuid.UUID) -> int:
    """The report's signed 64-bit advisory-lock key for its email (a pair of reports collides with p = 2^-64)."""
    digest = hashlib.blake2b(_EMAIL_CLAIM_NAMESPACE + report_id.bytes, digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def email_claim(report_id: uuid.UUID) -> Iterator[str]:
    """Hold the report's email claim for the block: yields "claimed", "busy" (another delivery holds it) or "sent".

    The claim is a transaction-scoped advisory lock (`pg_try_advisory_xact_lock`) on the caller's
    session. Under "claimed" the caller sends, then records the outcome with `note()`: that commit
    writes the event and releases the lock in the same instant, so the next holder's check (run after
    it got the lock) always sees an "email_sent" that was written. Nothing to clean up after a crash:
    PostgreSQL drops the lock with the dead process's connection, and a block that leaves without
    committing is rolled back here, which releases it too. (A marker row would outlive a crash and need
    a lease; a Redis key would need a TTL longer than any SMTP conversation, which Flask-Mail does not bound.)
    """
    session = _session()
    try:
        if not session.execute(_TRY_EMAIL_CLAIM, {"key": _email_claim_key(report_id)}).scalar():
            state = "busy"
        elif session.execute(_EMAIL_SENT, {"report_id": report_id}).first() is not None:
            state = "sent"
        else:
            state = "claimed"
        if state != "claimed":
            session.rollback()  # hold nothing while the caller only logs
    except BaseException:
        session.rollback()
        raise
    try:
        yield state
    finally:
        session.rollback()  # a no-op after the block's note() committed; otherwise this releases the lock
