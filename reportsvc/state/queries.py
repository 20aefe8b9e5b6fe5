"""Read-side queries for reports: keyset pages, search, counts (used by the API and the console)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, func, or_, select, true, tuple_

from reportsvc import cursors
from reportsvc.extensions import db
from reportsvc.state.models import ACTIVE_STATUSES, STATUSES, ReportEvent, ReportRequest

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
    return cursors.encode_text(f"{created_at.isoformat()}|{report_id}")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Inverse of encode_cursor; QueryError for anything else."""
    try:
        stamp, ident = cursors.decode_text(cursor).split("|", 1)
        return cursors.stamp(stamp), cursors.uuid_of(ident)
    except ValueError:
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
    schedule_id: str | None = None,
) -> Page:
    """Newest-first keyset page; `cursor` pages older, `before` pages newer; `schedule_id`: that schedule's."""
    if status is not None and status not in STATUSES:
        raise QueryError("status", f"status must be one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError("limit", f"limit must be between 1 and {MAX_LIMIT}")
    if q is not None and len(q) > 200:
        raise QueryError("q", "search text is limited to 200 characters")
    conditions = []
    if schedule_id is not None:
        schedule_uuid = parse_report_id(schedule_id)
        if schedule_uuid is None:
            raise QueryError("schedule_id", "schedule_id must be a schedule id (a UUID)")
        conditions.append(ReportRequest.schedule_id == schedule_uuid)
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
    stmt = select(ReportRequest).where(and_(true(), *conditions)).order_by(*order).limit(limit + 1)
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


_STATUS_COLUMNS = (ReportRequest.id, ReportRequest.status, ReportRequest.progress, ReportRequest.progress_message,
                   ReportRequest.error_message, ReportRequest.attempts, ReportRequest.updated_at,
                   ReportRequest.file_expired_at, ReportRequest.cancel_requested_at)
#: Built once; run on the session's connection (a Core statement: no ORM execution layer per poll).
_STATUS_QUERY = select(*_STATUS_COLUMNS).where(ReportRequest.id == bindparam("report_id"))


def report_status(report_id: uuid.UUID) -> dict[str, object] | None:
    """The polling view of one report (what `ReportRequest.status_dict()` gives), from its columns only:
    no ORM entity, no identity map, no params/JSONB decoding."""
    row = db.session.connection().execute(_STATUS_QUERY, {"report_id": report_id}).first()
    if row is None:
        return None
    rid, status, progress, progress_message, error_message, attempts, updated_at, file_expired_at, cancel_at = row
    return {
        "id": str(rid),
        "status": status,
        "progress": progress,
        "progress_message": progress_message,
        "error_message": error_message,
        "attempts": attempts,
        "updated_at": updated_at.isoformat() if updated_at is not None else None,
        "download_url": f"/reports/{rid}/download" if status == "READY" and file_expired_at is None else None,
        "cancel_requested": status == "RUNNING" and cancel_at is not None,
    }


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


# -- status counts for the console's filter tabs --------------------------------------------------
#
# The console asks for counts on every page view and every counts poll, so they must not cost a
# COUNT(*) over a million-row table. Strategy, per status:
#   * small table (planner estimate <= EXACT_COUNT_LIMIT rows): one exact GROUP BY; cheap at that size.
#   * large table: PENDING and RUNNING are always counted exactly (partial indexes keep those sets
#     small and they are what an operator watches); READY/FAILED/CANCELLED are counted exactly when
#     their estimated size is <= EXACT_COUNT_LIMIT (an index range scan on (status, created_at, id)
#     bounded by that limit) and otherwise estimated from pg_class.reltuples x pg_stats' most-common-
#     value frequency for `status` (kept fresh by autovacuum's ANALYZE), flagged `exact=False` so the
#     page shows "≈".
# The result is cached in-process for COUNTS_TTL_SECONDS so that polling tabs share one computation, unless a
# report changed status meanwhile (the lifecycle bumps a generation counter in Redis with each event).

EXACT_COUNT_LIMIT = 10_000
COUNTS_TTL_SECONDS = 2.0


@dataclass(frozen=True)
class StatusCount:
    """How many reports are in one status; `exact` is False for a planner-statistics estimate."""

    value: int | None
    exact: bool = True


_counts_cache: dict[str, object] = {"at": 0.0, "value": None}


def status_counts(*, max_age: float = COUNTS_TTL_SECONDS) -> dict[str, StatusCount]:
    """Reports per status (plus "ALL"), exact where cheap and estimated where not; cached briefly."""
    import time

    now = time.monotonic()
    generation = _counts_generation()
    cached = _counts_cache["value"]
    if (cached is not None and now - float(_counts_cache["at"]) < max_age  # type: ignore[arg-type]
            and _counts_cache.get("generation") == generation):
        return dict(cached)  # type: ignore[call-overload]
    value = _compute_status_counts()
    _counts_cache.update(at=time.monotonic(), value=value, generation=generation)
    return dict(value)


def _counts_generation() -> bytes | None:
    """The counter every report transition bumps (lifecycle.announce); None when Redis does not answer."""
    from reportsvc.names import COUNTS_GENERATION_KEY
    from reportsvc.redis_client import get_redis

    try:
        value: bytes | None = get_redis().get(COUNTS_GENERATION_KEY)  # type: ignore[assignment]
    except Exception:  # counts then live by their TTL alone
        return None
    return value


def clear_status_counts_cache() -> None:
    """Drop the cached counts (after an action, or in tests)."""
    _counts_cache.update(at=0.0, value=None)


def _table_estimate() -> tuple[float, dict[str, float]]:
    """(row estimate, status -> fraction from pg_stats); both from statistics, no table scan."""
    from sqlalchemy import text

    row = db.session.execute(text(
        "SELECT GREATEST(c.reltuples, COALESCE(s.n_live_tup, 0), 0) AS estimate "
        "FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
        "WHERE c.oid = to_regclass('report_requests')"
    )).first()
    estimate = float(row[0]) if row is not None else 0.0
    stats = db.session.execute(text(
        "SELECT most_common_vals::text::text[], most_common_freqs FROM pg_stats "
        "WHERE schemaname = current_schema() AND tablename = 'report_requests' AND attname = 'status'"
    )).first()
    fractions: dict[str, float] = {}
    if stats is not None and stats[0] is not None:
        fractions = {str(v): float(f) for v, f in zip(stats[0], stats[1], strict=False)}
    return estimate, fractions


def _compute_status_counts() -> dict[str, StatusCount]:
    estimate, fractions = _table_estimate()
    counts: dict[str, StatusCount] = {}
    if estimate <= EXACT_COUNT_LIMIT:
        stmt = select(ReportRequest.status, func.count()).group_by(ReportRequest.status)
        found = {status: int(n) for status, n in db.session.execute(stmt)}
        counts = {s: StatusCount(found.get(s, 0)) for s in STATUSES}
    else:
        for status in STATUSES:
            guess = fractions.get(status, 0.0) * estimate
            if status not in ACTIVE_STATUSES and not fractions:
                # Large but never analyzed: an exact count could scan the table; say "unknown".
                counts[status] = StatusCount(None, exact=False)
            elif status in ACTIVE_STATUSES or guess <= EXACT_COUNT_LIMIT:
                n = db.session.execute(
                    select(func.count()).select_from(ReportRequest).where(ReportRequest.status == status)
                ).scalar_one()
                counts[status] = StatusCount(int(n))
            else:
                counts[status] = StatusCount(int(round(guess)), exact=False)
    if all(c.value is not None for c in counts.values()):
        total = sum(c.value or 0 for c in counts.values())
    else:
        total = int(round(estimate))
    counts["ALL"] = StatusCount(total, all(c.exact for c in counts.values()))
    return counts
