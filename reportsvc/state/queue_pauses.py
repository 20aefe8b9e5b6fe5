"""Paused queues, the system of record: one row per paused queue (who paused it, when).

PostgreSQL holds the truth so a pause survives a Redis flush or restart; `reportsvc.queues.pauses`
keeps the mirror in Redis that workers read cheaply, and `reportsvc.ops.pauses` keeps the two in step.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, mapped_column

from reportsvc.extensions import db


class QueuePause(db.Model):  # type: ignore[name-defined]
    """A paused queue: no worker starts its messages until it is resumed (migration i17_queue_pauses)."""

    __tablename__ = "queue_pauses"

    queue: Mapped[str] = mapped_column(String(255), primary_key=True)
    paused_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    paused_by: Mapped[str | None] = mapped_column(String(255))


def pause(queue: str, actor: str | None) -> bool:
    """Record the queue as paused; False when it already was (the first pause keeps its time and actor)."""
    session = db.session()
    try:
        inserted = session.execute(
            insert(QueuePause).values(queue=queue, paused_by=actor).on_conflict_do_nothing().returning(QueuePause.queue)
        ).scalar_one_or_none()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return inserted is not None


def resume(queue: str) -> bool:
    """Forget the queue's pause; False when it was not paused."""
    session = db.session()
    try:
        deleted = session.execute(
            delete(QueuePause).where(QueuePause.queue == queue).returning(QueuePause.queue)
        ).scalar_one_or_none()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return deleted is not None


def all_pauses() -> dict[str, tuple[datetime, str | None]]:
    """Every paused queue -> (since, by)."""
    session = db.session()
    rows = session.execute(select(QueuePause.queue, QueuePause.paused_at, QueuePause.paused_by)).all()
    session.rollback()
    return {r.queue: (r.paused_at, r.paused_by) for r in rows}
