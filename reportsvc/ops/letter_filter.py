"""Which dead letters a bulk action touches, as an operator writes it: parsing and checking the filter.

The JSON object a client sends (``actor``, ``error``, ``dead_after``, ``dead_before``) becomes a
:class:`LetterFilter`; a bad field raises :class:`FilterError` naming it. The filter turns into the
queues-level :class:`~reportsvc.queues.DeadFilter`, with the ``error`` condition answered by one SQL
query per batch against the carried reports' ``error_message``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from reportsvc.extensions import db
from reportsvc.names import REPORT_ACTORS
from reportsvc.queues import DeadFilter, MessageView
from reportsvc.state.models import ReportRequest

FILTER_KEYS = ("actor", "error", "dead_before", "dead_after")


class FilterError(ValueError):
    """A filter field is unknown or malformed; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class LetterFilter:
    """Operator-facing filter of dead letters: all given conditions must hold.

    ``actor``: Dramatiq actor name. ``error``: case-insensitive substring of the carried report's
    ``error_message`` in PostgreSQL (letters without a report never match). ``dead_after``
    inclusive, ``dead_before`` exclusive.
    """

    actor: str | None = None
    error: str | None = None
    dead_after: datetime | None = None
    dead_before: datetime | None = None

    @classmethod
    def parse(cls, raw: Any) -> LetterFilter:
        """Validate a JSON filter object; FilterError names the bad field."""
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise FilterError("filter", "filter must be a JSON object")
        unknown = sorted(set(raw) - set(FILTER_KEYS))
        if unknown:
            raise FilterError(f"filter.{unknown[0]}", f"unknown filter field; known: {', '.join(FILTER_KEYS)}")
        values: dict[str, Any] = {}
        for key in ("actor", "error"):
            value = raw.get(key)
            if value is None or value == "":
                continue
            if not isinstance(value, str) or len(value) > 200:
                raise FilterError(f"filter.{key}", "must be a string of at most 200 characters")
            values[key] = value
        for key in ("dead_after", "dead_before"):
            value = raw.get(key)
            if value is None or value == "":
                continue
            values[key] = _parse_time(value, f"filter.{key}")
        flt = cls(**values)
        if flt.dead_after and flt.dead_before and flt.dead_after >= flt.dead_before:
            raise FilterError("filter.dead_before", "dead_before must be later than dead_after")
        return flt

    def as_json(self) -> dict[str, Any]:
        """The filter as stored on a bulk job and echoed to clients."""
        out: dict[str, Any] = {}
        if self.actor:
            out["actor"] = self.actor
        if self.error:
            out["error"] = self.error
        if self.dead_after:
            out["dead_after"] = self.dead_after.isoformat()
        if self.dead_before:
            out["dead_before"] = self.dead_before.isoformat()
        return out

    def dead_filter(self, *, snapshot_ms: float | None = None, allow: Any = None) -> DeadFilter:
        """The queues-level filter; ``snapshot_ms`` caps dead_before so a job ends on what existed."""
        before: float | None = None if self.dead_before is None else self.dead_before.timestamp() * 1000.0
        if snapshot_ms is not None:
            before = snapshot_ms if before is None else min(before, snapshot_ms)
        return DeadFilter(
            actor=self.actor,
            dead_after=self.dead_after,
            dead_before=before,
            allow=allow if allow is not None else (self._error_allow if self.error else None),
            report_actors=REPORT_ACTORS,
        )

    def _error_allow(self, views: list[MessageView]) -> set[str]:
        return matching_error(views, self.error or "")


def _parse_time(value: Any, name: str) -> datetime:
    if not isinstance(value, str):
        raise FilterError(name, "must be an ISO 8601 datetime string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(name, "must be an ISO 8601 datetime, e.g. 2026-01-31T12:00:00Z") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def report_uuid(view: MessageView) -> uuid.UUID | None:
    """The report id a message carries, parsed; None if it carries none or a malformed one."""
    if view.report_id is None:
        return None
    try:
        return uuid.UUID(str(view.report_id))
    except ValueError:
        return None


def matching_error(views: list[MessageView], needle: str) -> set[str]:
    """Redis ids of views whose report's error_message contains ``needle`` (one SQL query)."""
    by_report: dict[uuid.UUID, list[str]] = {}
    for v in views:
        rid = report_uuid(v)
        if rid is not None:
            by_report.setdefault(rid, []).append(v.redis_id)
    if not by_report:
        return set()
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = db.session.execute(
        select(ReportRequest.id).where(
            ReportRequest.id.in_(list(by_report)),
            ReportRequest.error_message.ilike(f"%{escaped}%", escape="\\"),
        )
    ).scalars()
    matched = set(rows)
    db.session.rollback()
    return {redis_id for rid in matched for redis_id in by_report[rid]}
