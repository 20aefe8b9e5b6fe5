"""The operator audit trail: who did what, to what, how many, and how it ended.

`record()` commits its own short transaction, so an action's audit row is written even when
the caller's work is in Redis (no SQL transaction to join). Reads are keyset pages on
(created_at DESC, id DESC), the order of `ix_audit_log_created_id`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, true, tuple_

from reportsvc import cursors
from reportsvc.extensions import db
from reportsvc.state.models import AuditLog

log = logging.getLogger("reportsvc.state.audit")

MAX_LIMIT = 200


class AuditQueryError(ValueError):
    """A cursor or limit the client sent cannot be used; ``field`` names which."""

    def __init__(self, message: str, field: str = "limit") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AuditPage:
    """One newest-first page of the audit log."""

    items: list[AuditLog]
    next_cursor: str | None


def record(actor: str, action: str, target: str | None, outcome: str, detail: dict[str, Any] | None = None) -> int:
    """Append one audit row and commit it; returns its id. ``outcome``: ok, noop, refused, accepted, failed..."""
    session = db.session()
    row = AuditLog(actor=(actor or "unknown")[:255], action=action[:64], target=target, outcome=outcome[:32],
                   detail=detail or {})
    try:
        session.add(row)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    log.info("audit %s %s %s -> %s %s", actor, action, target, outcome, detail or "")
    return int(row.id)


def _encode(created_at: datetime, row_id: int) -> str:
    return cursors.encode_text(f"{created_at.isoformat()}|{row_id}")


def _decode(cursor: str) -> tuple[datetime, int]:
    try:
        stamp, ident = cursors.decode_text(cursor).split("|", 1)
        return cursors.stamp(stamp), cursors.whole(ident, 1, cursors.MAX_BIGINT)
    except ValueError:
        raise AuditQueryError("cursor is malformed; use next_cursor from a previous page", "cursor") from None


def list_entries(
    *, limit: int = 50, cursor: str | None = None, action: str | None = None, actor: str | None = None
) -> AuditPage:
    """Newest first; optional exact ``action`` / ``actor`` filters."""
    if not 1 <= limit <= MAX_LIMIT:
        raise AuditQueryError(f"limit must be between 1 and {MAX_LIMIT}")
    conditions = []
    if action:
        conditions.append(AuditLog.action == action)
    if actor:
        conditions.append(AuditLog.actor == actor)
    if cursor:
        conditions.append(tuple_(AuditLog.created_at, AuditLog.id) < tuple_(*_decode(cursor)))
    stmt = (
        select(AuditLog)
        .where(and_(true(), *conditions))
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
        .limit(limit + 1)
    )
    rows = list(db.session.execute(stmt).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode(rows[-1].created_at, rows[-1].id) if more and rows else None
    return AuditPage(rows, next_cursor)


def as_dict(row: AuditLog) -> dict[str, Any]:
    """JSON-ready audit entry."""
    return {
        "id": row.id,
        "created_at": row.created_at.isoformat() if row.created_at else None,
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "outcome": row.outcome,
        "detail": row.detail,
    }
