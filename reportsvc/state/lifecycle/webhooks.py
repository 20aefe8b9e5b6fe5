"""The webhook claim (called by reportsvc.ops.webhooks): at most one delivery of a report's outcome at a time.

Same shape as the email claim (`emails.py`): a transaction-scoped advisory lock on the report and outcome,
then a look for the event that says the outcome was delivered. An outcome is "<status>#<attempts>" (a report
can be FAILED, retried and then READY: two outcomes, one webhook each).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import bindparam, select, text

from reportsvc.state.lifecycle._common import E, _session

#: Mixed into every key, so these advisory locks stay clear of the email claim's and any other user's.
_WEBHOOK_CLAIM_NAMESPACE = b"reportsvc:webhook-claim:"
_TRY_CLAIM = text("SELECT pg_try_advisory_xact_lock(:key)")
_DELIVERED = select(E.c.id).where(
    E.c.report_id == bindparam("report_id"), E.c.kind == "webhook_delivered",
    E.c.detail["outcome"].astext == bindparam("outcome"),
).limit(1)


def _claim_key(report_id: uuid.UUID, outcome: str) -> int:
    """The signed 64-bit advisory-lock key of one report's outcome."""
    digest = hashlib.blake2b(_WEBHOOK_CLAIM_NAMESPACE + report_id.bytes + outcome.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def webhook_claim(report_id: uuid.UUID, outcome: str) -> Iterator[str]:
    """Hold the outcome's webhook claim for the block: yields "claimed", "busy" or "sent".

    Under "claimed" the caller posts, then records the result with `note()`: a "webhook_delivered" event
    with detail.outcome commits and releases the lock at the same instant (see `email_claim`).
    """
    session = _session()
    try:
        if not session.execute(_TRY_CLAIM, {"key": _claim_key(report_id, outcome)}).scalar():
            state = "busy"
        elif session.execute(_DELIVERED, {"report_id": report_id, "outcome": outcome}).first() is not None:
            state = "sent"
        else:
            state = "claimed"
        if state != "claimed":
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    try:
        yield state
    finally:
        session.rollback()
