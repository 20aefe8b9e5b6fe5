"""Schedules in the database: reads (keyset pages, one schedule, its runs) and the writes the service layer asks for.

The due-slot logic that decides what to write lives in reportsvc.ops.schedules; this module only stores.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select, true, tuple_, update

from reportsvc.extensions import db
from reportsvc.state.models import ReportRequest
from reportsvc.state.schedule_model import ReportSchedule

MAX_LIMIT = 200


class ScheduleQueryError(ValueError):
    """A cursor or limit the client sent cannot be used; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class NameTaken(ValueError):
    """Another schedule already has this name."""


@dataclass(frozen=True)
class SchedulePage:
    """One page of schedules, newest first, each with its last run (report id, status) when it has one."""

    items: list[ReportSchedule]
    last_runs: dict[uuid.UUID, tuple[uuid.UUID, str]]
    next_cursor: str | None


def parse_id(raw: str) -> uuid.UUID | None:
    """A schedule id from a path segment, or None when malformed."""
    try:
        return uuid.UUID(raw)
    except (ValueError, AttributeError, TypeError):
        return None


def get(schedule_id: uuid.UUID) -> ReportSchedule | None:
    """One schedule by id."""
    return db.session.get(ReportSchedule, schedule_id)


def get_by_name(name: str) -> ReportSchedule | None:
    """One schedule by its (unique) name."""
    return db.session.execute(select(ReportSchedule).where(ReportSchedule.name == name)).scalar_one_or_none()


def _encode(created_at: datetime, schedule_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{schedule_id}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
        stamp, ident = raw.split("|", 1)
        return datetime.fromisoformat(stamp), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise ScheduleQueryError("cursor", "cursor is malformed; use next_cursor from a previous page") from None


def list_page(*, limit: int = 50, cursor: str | None = None) -> SchedulePage:
    """Newest first, keyset on (created_at, id)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ScheduleQueryError("limit", f"limit must be between 1 and {MAX_LIMIT}")
    conditions = []
    if cursor:
        conditions.append(tuple_(ReportSchedule.created_at, ReportSchedule.id) < tuple_(*_decode(cursor)))
    stmt = (select(ReportSchedule).where(and_(true(), *conditions))
            .order_by(ReportSchedule.created_at.desc(), ReportSchedule.id.desc()).limit(limit + 1))
    rows = list(db.session.execute(stmt).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode(rows[-1].created_at, rows[-1].id) if more and rows else None
    return SchedulePage(rows, last_runs([r for r in rows]), next_cursor)


def last_runs(rows: list[ReportSchedule]) -> dict[uuid.UUID, tuple[uuid.UUID, str]]:
    """schedule id -> (report id, status) of each schedule's last report, one query for the page."""
    wanted = {r.last_report_id: r.id for r in rows if r.last_report_id is not None}
    if not wanted:
        return {}
    found = db.session.execute(select(ReportRequest.id, ReportRequest.status)
                               .where(ReportRequest.id.in_(list(wanted)))).all()
    return {wanted[rid]: (rid, status) for rid, status in found}


def runs(schedule_id: uuid.UUID, limit: int = 20) -> list[ReportRequest]:
    """The schedule's reports, newest first (slots and "run now" alike)."""
    stmt = (select(ReportRequest).where(ReportRequest.schedule_id == schedule_id)
            .order_by(ReportRequest.created_at.desc(), ReportRequest.id.desc()).limit(limit))
    return list(db.session.execute(stmt).scalars())


def insert(values: dict[str, Any], actor: str) -> ReportSchedule:
    """Store a new schedule and commit; NameTaken when the name is in use."""
    if get_by_name(values["name"]) is not None:
        db.session.rollback()
        raise NameTaken(values["name"])
    row = ReportSchedule(id=uuid.uuid4(), created_by=actor, updated_by=actor, **values)
    db.session.add(row)
    _commit_or_name_taken(values["name"])
    return row


def _commit_or_name_taken(name: str) -> None:
    from sqlalchemy.exc import IntegrityError

    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise NameTaken(name) from None


def change(schedule_id: uuid.UUID, values: dict[str, Any], actor: str) -> ReportSchedule | None:
    """Update the given columns (and updated_by/at) and commit; None when the schedule is gone."""
    name = values.get("name")
    if name is not None:
        other = get_by_name(name)
        if other is not None and other.id != schedule_id:
            db.session.rollback()
            raise NameTaken(name)
    stmt = (update(ReportSchedule).where(ReportSchedule.id == schedule_id)
            .values(**values, updated_by=actor, updated_at=db.func.now()).returning(ReportSchedule.id))
    found = db.session.execute(stmt).first()
    _commit_or_name_taken(name or "")
    if found is None:
        return None
    row = get(schedule_id)
    if row is not None:
        db.session.refresh(row)
    return row


def remove(schedule_id: uuid.UUID) -> str | None:
    """Delete the schedule (its reports stay, their link set to NULL by the foreign key); its name, or None."""
    name = db.session.execute(delete(ReportSchedule).where(ReportSchedule.id == schedule_id)
                              .returning(ReportSchedule.name)).scalar()
    db.session.commit()
    return name


def lock_due(now: datetime, limit: int) -> list[ReportSchedule]:
    """Due enabled schedules, earliest slot first, locked for this transaction; rows others hold are skipped.

    FOR NO KEY UPDATE is FOR UPDATE's weaker sibling: it still excludes every other poller (SKIP LOCKED),
    but not the KEY SHARE lock that the report INSERT's foreign key check takes on this row. The INSERT
    runs on its own connection (the normal create path), so FOR UPDATE would make it wait for this very
    transaction: a deadlock PostgreSQL cannot see.
    """
    stmt = (select(ReportSchedule)
            .where(ReportSchedule.enabled.is_(True), ReportSchedule.next_run_at <= now)
            .order_by(ReportSchedule.next_run_at).limit(limit)
            .with_for_update(skip_locked=True, key_share=True))
    return list(db.session.execute(stmt).scalars())


def remember_run(schedule_id: uuid.UUID, report_id: uuid.UUID, at: datetime) -> None:
    """Note a "run now" report as the schedule's last run, and commit."""
    db.session.execute(update(ReportSchedule).where(ReportSchedule.id == schedule_id)
                       .values(last_run_at=at, last_report_id=report_id))
    db.session.commit()


def report_ids_by_schedule(schedule_id: uuid.UUID) -> list[uuid.UUID]:
    """Every report id the schedule made (tests and the CLI count them)."""
    return list(db.session.execute(select(ReportRequest.id).where(ReportRequest.schedule_id == schedule_id))
                .scalars())
