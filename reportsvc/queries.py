"""Read-side queries for reports: keyset pages, search, counts (used by the API and the console)."""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, tuple_

from .extensions import db
from .models import STATUSES, ReportEvent, ReportRequest

HEX_PREFIX = re.compile(r"^[0-9a-fA-F-]{1,36}$")
MAX_LIMIT = 200


class QueryError(ValueError):
    """A filter or cursor the client sent cannot be used."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Page:
    """One keyset page of reports, newest first."""

    items: list[ReportRequest]
    next_cursor: str | None
    prev_cursor: str | None = None


def encode_cursor(created_at: datetime, report_id: uuid.UUID) -> str:
    """Opaque cursor for the position after (created_at, id)."""
    raw = f"{created_at.isoformat()}|{report_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Inverse of encode_cursor; QueryError for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        stamp, ident = base64.urlsafe_b64decode(padded.encode()).decode().split("|", 1)
        return datetime.fromisoformat(stamp), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise QueryError("cursor", "cursor is malformed; use next_cursor from a previous page") from None


def id_prefix_range(prefix: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """UUID bounds for a hex id prefix, so the primary key index answers prefix search."""
    digits = prefix.replace("-", "").lower()
    if not digits or len(digits) > 32 or not HEX_PREFIX.match(prefix):
        return None
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))


def _search_condition(q: str):  # type: ignore[no-untyped-def]
    term = q.strip()
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    title_match = func.lower(ReportRequest.title).like(escaped + "%", escape="\\")
    bounds = id_prefix_range(term)
    if bounds is None:
        return title_match
    return or_(ReportRequest.id.between(*bounds), title_match)


def list_reports(
    *,
    status: str | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    before: str | None = None,
) -> Page:
    """Newest-first keyset page; `cursor` pages older, `before` pages newer."""
    if status is not None and status not in STATUSES:
        raise QueryError("status", f"status must be one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError("limit", f"limit must be between 1 and {MAX_LIMIT}")
    if q is not None and len(q) > 200:
        raise QueryError("q", "search text is limited to 200 characters")
    conditions = []
    if status:
        conditions.append(ReportRequest.status == status)
    if q and q.strip():
        conditions.append(_search_condition(q))
    key = tuple_(ReportRequest.created_at, ReportRequest.id)
    newer = before is not None
    if cursor:
        conditions.append(key < tuple_(*decode_cursor(cursor)))
    elif before:
        conditions.append(key > tuple_(*decode_cursor(before)))
    order = (
        (ReportRequest.created_at.asc(), ReportRequest.id.asc())
        if newer
        else (ReportRequest.created_at.desc(), ReportRequest.id.desc())
    )
    stmt = select(ReportRequest).where(and_(*conditions)).order_by(*order).limit(limit + 1)
    rows = list(db.session.execute(stmt).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    if newer:
        rows.reverse()
    if not rows:
        return Page([], None, None)
    first, last = rows[0], rows[-1]
    older_cursor = encode_cursor(last.created_at, last.id) if (more or newer) else None
    newer_cursor = encode_cursor(first.created_at, first.id) if (cursor or (newer and more)) else None
    return Page(rows, older_cursor, newer_cursor)


def get_report(report_id: uuid.UUID) -> ReportRequest | None:
    """One report by id."""
    return db.session.get(ReportRequest, report_id)


def get_reports(ids: list[uuid.UUID]) -> list[ReportRequest]:
    """Several reports by id in one query (for live row polling)."""
    if not ids:
        return []
    return list(db.session.execute(select(ReportRequest).where(ReportRequest.id.in_(ids))).scalars())


def events(report_id: uuid.UUID, limit: int = 500) -> list[ReportEvent]:
    """The report's timeline, oldest first."""
    stmt = (
        select(ReportEvent).where(ReportEvent.report_id == report_id).order_by(ReportEvent.id.asc()).limit(limit)
    )
    return list(db.session.execute(stmt).scalars())


def parse_report_id(raw: str) -> uuid.UUID | None:
    """A UUID from a path segment, or None when malformed."""
    try:
        return uuid.UUID(raw)
    except (ValueError, AttributeError, TypeError):
        return None
