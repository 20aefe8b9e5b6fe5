"""The `report_schedules` table: a recurring report (cron + IANA time zone) and where it stands."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, DateTime, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from reportsvc.extensions import db

MISFIRE_POLICIES = ("latest", "skip")


class ReportSchedule(db.Model):  # type: ignore[name-defined]
    """One schedule: what report to make, when (cron in its time zone), for whom, and its next slot."""

    __tablename__ = "report_schedules"
    __table_args__ = (
        UniqueConstraint("name", name="uq_report_schedules_name"),
        CheckConstraint("misfire IN ('latest','skip')", name="report_schedules_misfire_check"),
        # The poll reads only enabled schedules, earliest slot first.
        Index("ix_report_schedules_due", "next_run_at", postgresql_where=text("enabled")),
        Index("ix_report_schedules_created_id", text("created_at DESC"), text("id DESC")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    report_type: Mapped[str] = mapped_column(String(64), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    title: Mapped[str | None] = mapped_column(String(200))
    cron: Mapped[str] = mapped_column(String(100), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    recipients: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb")
    )
    #: Completion webhook of every report this schedule makes (reportsvc.ops.webhooks).
    callback_url: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=text("true"))
    #: Why the schedule is paused: an operator's pause, or the type/params the scheduler found invalid.
    paused_reason: Mapped[str | None] = mapped_column(Text)
    misfire: Mapped[str] = mapped_column(String(8), nullable=False, default="latest", server_default="latest")
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_report_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_by: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready schedule."""
        return {
            "id": str(self.id),
            "name": self.name,
            "report_type": self.report_type,
            "params": self.params,
            "title": self.title,
            "cron": self.cron,
            "timezone": self.timezone,
            "recipients": list(self.recipients or []),
            "callback_url": self.callback_url,
            "enabled": self.enabled,
            "paused_reason": self.paused_reason,
            "misfire": self.misfire,
            "next_run_at": _iso(self.next_run_at),
            "last_run_at": _iso(self.last_run_at),
            "last_report_id": str(self.last_report_id) if self.last_report_id else None,
            "created_by": self.created_by,
            "created_at": _iso(self.created_at),
            "updated_by": self.updated_by,
            "updated_at": _iso(self.updated_at),
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
