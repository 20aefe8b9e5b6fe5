"""Alert state in PostgreSQL: one row per rule (firing or not) and the history of firings and resolutions.

`observe` is the only writer of a rule's state: it locks the rule's row (SELECT ... FOR UPDATE), so two
schedulers evaluating at the same moment take turns and the second sees what the first wrote: one incident
makes one "fired" event and one "resolved" event, whatever the number of schedulers. A rule that fires again
within the cooldown after it resolved is shown (banner, history) but its notifications are suppressed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from reportsvc.extensions import db


class AlertState(db.Model):  # type: ignore[name-defined]
    """A rule's current state: firing since when, the last value seen, when it last resolved."""

    __tablename__ = "alert_state"

    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    firing: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    value: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)
    #: When the condition was first seen true in a row (rules with a duration fire once it lasted long enough).
    pending_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    fired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: This firing came within the cooldown: it and its resolution notify nobody.
    suppressed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class AlertEvent(db.Model):  # type: ignore[name-defined]
    """One firing or resolution, and whether its notification went out."""

    __tablename__ = "alert_events"
    __table_args__ = (
        CheckConstraint("kind IN ('fired','resolved')", name="alert_events_kind_check"),
        CheckConstraint("notify IN ('pending','sent','suppressed','failed','none')", name="alert_events_notify_check"),
        Index("ix_alert_events_at", text("at DESC"), text("id DESC")),
        Index("ix_alert_events_pending", "id", postgresql_where=text("notify = 'pending'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    value: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())
    notify: Mapped[str] = mapped_column(String(16), nullable=False)
    email_done: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    webhook_done: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=text("false"))
    notify_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    notify_error: Mapped[str | None] = mapped_column(Text)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Observation:
    """What one evaluation of a rule saw."""

    rule: str
    breached: bool
    value: float
    message: str
    #: The condition must hold this long before the rule fires (0: at once).
    for_seconds: float = 0.0


_ENSURE = text("INSERT INTO alert_state (rule) VALUES (:rule) ON CONFLICT (rule) DO NOTHING")


def observe(obs: Observation, *, cooldown_seconds: float, notify: bool) -> str | None:
    """Apply one observation under the rule's row lock; "fired", "resolved" or None (nothing changed)."""
    session = db.session()
    try:
        session.execute(_ENSURE, {"rule": obs.rule})
        state = session.execute(select(AlertState).where(AlertState.rule == obs.rule).with_for_update()).scalar_one()
        now = session.execute(select(func.now())).scalar_one()
        happened = _apply(session, state, obs, now, cooldown_seconds, notify)
        state.updated_at = now
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return happened


def _apply(session: Any, state: AlertState, obs: Observation, now: datetime, cooldown: float,
           notify: bool) -> str | None:
    if obs.breached:
        state.value, state.message = obs.value, obs.message
        if state.firing:
            return None
        state.pending_since = state.pending_since or now
        if (now - state.pending_since).total_seconds() < obs.for_seconds:
            return None
        state.suppressed = state.resolved_at is not None and (now - state.resolved_at).total_seconds() < cooldown
        state.firing, state.fired_at = True, now
        _record(session, obs.rule, "fired", obs.value, obs.message, now, state.suppressed, notify)
        return "fired"
    state.pending_since = None
    if not state.firing:
        return None
    state.firing, state.resolved_at, state.value, state.message = False, now, obs.value, obs.message
    _record(session, obs.rule, "resolved", obs.value, obs.message, now, state.suppressed, notify)
    return "resolved"


def _record(session: Any, rule: str, kind: str, value: float, message: str, now: datetime, suppressed: bool,
            notify: bool) -> None:
    status = "suppressed" if suppressed else "pending" if notify else "none"
    session.add(AlertEvent(rule=rule, kind=kind, value=value, message=message, at=now, notify=status))


def firing() -> list[AlertState]:
    """The rules firing now, oldest first (the console banner)."""
    rows = list(db.session.execute(
        select(AlertState).where(AlertState.firing.is_(True)).order_by(AlertState.fired_at)
    ).scalars())
    return rows


def states() -> list[AlertState]:
    """Every rule's state row, by name."""
    return list(db.session.execute(select(AlertState).order_by(AlertState.rule)).scalars())


def history(limit: int = 200) -> list[AlertEvent]:
    """The newest alert events first."""
    return list(db.session.execute(
        select(AlertEvent).order_by(AlertEvent.at.desc(), AlertEvent.id.desc()).limit(limit)
    ).scalars())
