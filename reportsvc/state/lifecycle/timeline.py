"""Timeline entries that change no state (emails, requeues, skips), and the check for one."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert, literal, select
from sqlalchemy.dialects.postgresql import JSONB

from reportsvc.state.lifecycle._common import E, R, _event, _session


def note(report_id: uuid.UUID, kind: str, message: str, detail: dict[str, Any] | None = None) -> None:
    """Append a timeline entry that changes no state (emails, requeues, skips)."""
    session = _session()
    try:
        _event(session, report_id, kind, message=message, detail=detail)
        session.commit()
    except BaseException:
        session.rollback()
        raise


def note_many(report_ids: list[uuid.UUID], kind: str, message: str, detail: dict[str, Any] | None = None) -> int:
    """The same state-less timeline entry on many reports in one INSERT ... SELECT; missing ids are skipped."""
    ids = list(dict.fromkeys(report_ids))
    if not ids:
        return 0
    session = _session()
    try:
        result = session.execute(
            insert(E).from_select(
                ["report_id", "kind", "message", "detail"],
                select(
                    R.c.id,
                    literal(kind),
                    literal(message),
                    literal(detail or {}, type_=JSONB),
                ).where(R.c.id.in_(ids)),
            )
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def has_event(report_id: uuid.UUID, kinds: tuple[str, ...]) -> bool:
    """Whether the report's timeline holds an event of one of these kinds."""
    session = _session()
    found = session.execute(
        select(E.c.id).where(E.c.report_id == report_id, E.c.kind.in_(kinds)).limit(1)
    ).first()
    session.rollback()
    return found is not None
