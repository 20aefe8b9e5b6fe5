"""Each report's own log: the lines its workers wrote while handling it, kept with the report.

Rows are appended by `reportsvc.worker.report_log` (in batches: each heartbeat, and when the attempt
ends) and read in keyset pages by id. The foreign key cascades, so retention's deletion of a report
takes its log with it.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Text, func, insert, select
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from reportsvc.extensions import db
from reportsvc.state import direct

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAX_LIMIT = 500


class ReportLog(db.Model):  # type: ignore[name-defined]
    """One log line written while a worker handled a report (migration i17_report_logs)."""

    __tablename__ = "report_logs"
    __table_args__ = (Index("ix_report_logs_report_id_id", "report_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    report_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("report_requests.id", ondelete="CASCADE"), nullable=False
    )
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    logged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    level: Mapped[str] = mapped_column(String(16), nullable=False)
    levelno: Mapped[int] = mapped_column(Integer, nullable=False)
    logger: Mapped[str] = mapped_column(String(255), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    traceback: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(255))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready line (the traceback too: callers decide who may see it)."""
        return {"id": self.id, "attempt": self.attempt, "time": self.logged_at.isoformat(), "level": self.level,
                "logger": self.logger, "message": self.message, "traceback": self.traceback, "worker": self.worker}


@dataclass(frozen=True)
class LogPage:
    """One oldest-first page of a report's log; `next_after` is the last id when more follow."""

    items: list[ReportLog]
    next_after: int | None


def append(rows: list[dict[str, Any]]) -> None:
    """Insert log lines (each a dict of ReportLog's columns but id) in one statement, committed."""
    if not rows:
        return
    if direct.enabled():
        # One prepared statement and one parameter whatever the number of lines: the lines as one JSON text,
        # turned back into rows by the server (nine array parameters cost psycopg's Python list dumper ~8 % of
        # the worker's CPU). UUIDs and datetimes go as their str() text, which the column types parse.
        with direct.autocommit() as conn:  # one INSERT, atomic on its own
            direct.run(conn, _APPEND, {"lines": json.dumps(rows, default=str, ensure_ascii=False)})
        return
    session = db.session()
    try:
        session.execute(insert(ReportLog), rows)
        session.commit()
    except BaseException:
        session.rollback()
        raise


_COLUMNS = {"report_id": "uuid", "attempt": "int", "logged_at": "timestamptz", "level": "text", "levelno": "int",
            "logger": "text", "message": "text", "traceback": "text", "worker": "text"}
_APPEND = (f"INSERT INTO report_logs ({', '.join(_COLUMNS)}) SELECT {', '.join(_COLUMNS)}"
           " FROM json_to_recordset(%(lines)s::json) AS line("
           + ", ".join(f"{name} {kind}" for name, kind in _COLUMNS.items()) + ")")


def count(report_id: uuid.UUID) -> int:
    """How many lines the report's log holds (the cap counts them across attempts)."""
    session = db.session()
    n = session.execute(select(func.count()).select_from(ReportLog).where(ReportLog.report_id == report_id)).scalar()
    session.rollback()
    return int(n or 0)


def page(report_id: uuid.UUID, *, after: int | None, limit: int, attempt: int | None = None,
         min_level: str | None = None) -> LogPage:
    """Lines oldest first after id `after`, optionally one attempt's and at `min_level` or above."""
    stmt = select(ReportLog).where(ReportLog.report_id == report_id)
    if after is not None:
        stmt = stmt.where(ReportLog.id > after)
    if attempt is not None:
        stmt = stmt.where(ReportLog.attempt == attempt)
    if min_level is not None:
        stmt = stmt.where(ReportLog.levelno >= logging.getLevelName(min_level))
    rows = list(db.session.execute(stmt.order_by(ReportLog.id).limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return LogPage(rows, rows[-1].id if more and rows else None)


def attempts(report_id: uuid.UUID) -> list[int]:
    """The attempts that wrote lines, in order (for the console's filter)."""
    stmt = select(ReportLog.attempt).where(ReportLog.report_id == report_id).distinct().order_by(ReportLog.attempt)
    return list(db.session.execute(stmt).scalars())
