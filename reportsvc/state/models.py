"""Typed SQLAlchemy 2 models: the system of record (DESIGN section 2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from reportsvc.extensions import db

STATUSES = ("PENDING", "RUNNING", "READY", "FAILED", "CANCELLED")
ACTIVE_STATUSES = ("PENDING", "RUNNING")


class ReportRequest(db.Model):  # type: ignore[name-defined]
    """One requested report: its state, progress, claim and output file."""

    __tablename__ = "report_requests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('PENDING','RUNNING','READY','FAILED','CANCELLED')",
            name="report_requests_status_check",
        ),
        CheckConstraint("progress >= 0 AND progress <= 100", name="report_requests_progress_check"),
        CheckConstraint("priority IN ('interactive','batch')", name="report_requests_priority_check"),
        # Keyset pagination newest-first, optionally within one status.
        Index("ix_report_requests_created_id", text("created_at DESC"), text("id DESC")),
        Index("ix_report_requests_status_created_id", "status", text("created_at DESC"), text("id DESC")),
        # The stall sweep scans only live claims.
        Index(
            "ix_report_requests_running_heartbeat",
            "heartbeat_at",
            postgresql_where=text("status = 'RUNNING'"),
        ),
        Index(
            "ix_report_requests_pending_created",
            "created_at",
            postgresql_where=text("status = 'PENDING'"),
        ),
        # Every reader asks for a finished_at range (dashboard, retention, alerts, owed emails), which implies
        # NOT NULL: unfinished rows stay out, so the create and the claim write no entry here (migration i16).
        Index("ix_report_requests_finished_at", "finished_at", postgresql_where=text("finished_at IS NOT NULL")),
        # Retention walks only the rows that still hold a file, oldest first (keyset on finished_at, id);
        # the plain finished_at index would revisit every already-expired row on every run.
        Index(
            "ix_report_requests_file_finished",
            "finished_at",
            "id",
            postgresql_where=text("file_path IS NOT NULL"),
        ),
        Index(
            "ix_report_requests_title_lower",
            text("lower(title) text_pattern_ops"),
        ),
        # One report per schedule slot, whatever the number of schedulers (NULL slots: "run now", never equal).
        UniqueConstraint("schedule_id", "scheduled_for", name="uq_report_requests_schedule_slot"),
        # A schedule's reports (schedule_id = x): rows of no schedule (every API and console report) stay out.
        Index("ix_report_requests_schedule_created", "schedule_id", text("created_at DESC"), text("id DESC"),
              postgresql_where=text("schedule_id IS NOT NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="PENDING", server_default="PENDING")
    progress: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    progress_message: Mapped[str | None] = mapped_column(Text)
    file_path: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    report_type: Mapped[str] = mapped_column(
        String(64), nullable=False, default="operations", server_default="operations"
    )
    title: Mapped[str | None] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )
    notify_email: Mapped[str | None] = mapped_column(String(320))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    stall_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    message_id: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    worker: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    #: SHA-256 (hex) of the published PDF, recorded in the same commit that makes the report READY.
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    requested_by: Mapped[str | None] = mapped_column(String(255))
    #: When retention deleted the PDF (RETENTION_PDF_DAYS); the report stays READY, its file is gone.
    file_expired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Where the completion webhook goes when the report is READY, FAILED or CANCELLED (reportsvc.ops.webhooks).
    callback_url: Mapped[str | None] = mapped_column(Text)
    #: The version of the report type that rendered the PDF (set when the report becomes READY).
    report_type_version: Mapped[str | None] = mapped_column(String(32))
    #: An operator asked to cancel the report while it was RUNNING; its worker stops at its next check.
    cancel_requested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_requested_by: Mapped[str | None] = mapped_column(String(255))
    #: Its lane (issue 17): "interactive" (API and console) or "batch" (schedules); each lane is its own queue.
    priority: Mapped[str] = mapped_column(String(16), nullable=False, default="interactive",
                                          server_default="interactive")
    #: The schedule that made the report (NULL once that schedule is deleted; `schedule_name` remembers it).
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("report_schedules.id", ondelete="SET NULL")
    )
    #: The schedule's slot this report is for; NULL for "run now".
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    schedule_name: Mapped[str | None] = mapped_column(String(100))
    #: Everyone the 'report ready' email goes to (a schedule's recipients); empty: `notify_email` alone.
    notify_emails: Mapped[list[str]] = mapped_column(
        JSONB, nullable=False, default=list, server_default=text("'[]'::jsonb")
    )

    @property
    def downloadable(self) -> bool:
        """READY with a file that retention has not deleted."""
        return self.status == "READY" and self.file_expired_at is None

    def status_dict(self) -> dict[str, Any]:
        """The small polling view served by GET /reports/<id>/status."""
        return {
            "id": str(self.id),
            "status": self.status,
            "progress": self.progress,
            "progress_message": self.progress_message,
            "error_message": self.error_message,
            "attempts": self.attempts,
            "updated_at": _iso(self.updated_at),
            "download_url": f"/reports/{self.id}/download" if self.downloadable else None,
            "cancel_requested": self.status == "RUNNING" and self.cancel_requested_at is not None,
        }

    def to_dict(self) -> dict[str, Any]:
        """Full JSON-ready record for the API: the status view plus every other field."""
        return self.status_dict() | {
            "report_type": self.report_type,
            "report_type_version": self.report_type_version,
            "title": self.title,
            "params": self.params,
            "notify_email": self.notify_email,
            "stall_count": self.stall_count,
            "message_id": self.message_id,
            "worker": self.worker,
            "file_size": self.file_size,
            "file_sha256": self.file_sha256,
            "requested_by": self.requested_by,
            "created_at": _iso(self.created_at),
            "heartbeat_at": _iso(self.heartbeat_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "file_expired_at": _iso(self.file_expired_at),
            "callback_url": self.callback_url,
            "priority": self.priority,
            "cancel_requested_at": _iso(self.cancel_requested_at),
            "cancel_requested_by": self.cancel_requested_by,
            "schedule_id": str(self.schedule_id) if self.schedule_id else None,
            "schedule_name": self.schedule_name,
            "scheduled_for": _iso(self.scheduled_for),
            "notify_emails": list(self.notify_emails or []),
        }


class ReportEvent(db.Model):  # type: ignore[name-defined]
    """Append-only timeline entry of one report."""

    __tablename__ = "report_events"
    # A report's timeline (report_id, id) is the one index every event INSERT maintains: no reader asks for
    # events by kind and time (ix_report_events_kind_created went in migration i16).
    __table_args__ = (Index("ix_report_events_report_id_id", "report_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    report_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("report_requests.id", ondelete="CASCADE"), nullable=False
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready timeline entry."""
        return {
            "id": self.id,
            "created_at": _iso(self.created_at),
            "kind": self.kind,
            "from_status": self.from_status,
            "to_status": self.to_status,
            "message": self.message,
            "detail": self.detail,
        }


class AuditLog(db.Model):  # type: ignore[name-defined]
    """One operator action: who, what, on what, and how it ended."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_created_id", text("created_at DESC"), text("id DESC")),
        # The audit page's filters (issue 15): each a range of one index in the page's order.
        Index("ix_audit_log_action_created_id", "action", text("created_at DESC"), text("id DESC")),
        Index("ix_audit_log_actor_created_id", "actor", text("created_at DESC"), text("id DESC")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    actor: Mapped[str] = mapped_column(String(255), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(32), nullable=False)
    detail: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default=text("'{}'::jsonb")
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# The schedules table lives in its own module; imported here so the metadata (and ReportRequest's foreign key) see it.
from reportsvc.state.schedule_model import ReportSchedule  # noqa: E402,F401

ROLES = ("viewer", "operator", "admin")


class User(db.Model):  # type: ignore[name-defined]
    """A console / API account (issue 6). `auth_epoch` changes on password change or disable, which
    invalidates every session issued before (Flask-Login's id embeds it)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('viewer','operator','admin')", name="users_role_check"),
        UniqueConstraint("name", name="uq_users_name"),
        # `ADMIN` and `admin` are one name (issue 15): sign-in and lookups compare lower(name).
        Index("uq_users_name_lower", text("lower(name)"), unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    password_hash: Mapped[str | None] = mapped_column(Text)
    disabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    auth_epoch: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    failed_logins: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready account (never the hash)."""
        return {
            "name": self.name,
            "role": self.role,
            "disabled": self.disabled,
            "has_password": self.password_hash is not None,
            "last_login_at": _iso(self.last_login_at),
            "created_at": _iso(self.created_at),
        }


class ApiToken(db.Model):  # type: ignore[name-defined]
    """A bearer token of one user; only its sha256 is stored, `prefix` identifies it to humans."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        Index("ix_api_tokens_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    label: Mapped[str | None] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def to_dict(self, user_name: str | None = None) -> dict[str, Any]:
        """JSON-ready token metadata (never the token or its hash)."""
        return {
            "id": self.id,
            "user": user_name,
            "label": self.label,
            "prefix": self.prefix,
            "created_at": _iso(self.created_at),
            "last_used_at": _iso(self.last_used_at),
            "revoked_at": _iso(self.revoked_at),
        }
