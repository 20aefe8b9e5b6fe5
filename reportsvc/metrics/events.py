"""Report counters from committed timeline rows: SQLAlchemy session hooks note every
``report_events`` INSERT and count it only when the transaction *commits* (a rolled-back transition
counts nothing), so the counters agree with the database in every process without any call site
having to remember to count. Also times attempts (claim to READY / failure) for the duration histogram.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from reportsvc.metrics.buffer import emit
from reportsvc.metrics.push import Batch
from reportsvc.metrics.series import TYPED

log = logging.getLogger("reportsvc.metrics")

# report_events.kind -> counter, for kinds that always count; status-dependent ones are in _counters_for.
_KIND_COUNTERS = {
    "created": "reports_created_total",
    "completed": "reports_completed_total",
    "cancelled": "reports_cancelled_total",
    "claimed": "report_attempts_total",
    "attempt_failed": "report_attempts_failed_total",
    "retried": "reports_retried_total",
    "stalled": "report_stalls_total",
    "requeued": "report_requeues_total",
    "email_sent": "emails_sent_total",
    "email_failed": "emails_failed_total",
    "email_skipped": "emails_skipped_total",
    "enqueue_failed": "enqueue_failures_total",
}


_TYPE_CACHE_SIZE = 10_000
_types: OrderedDict[uuid.UUID, str] = OrderedDict()
_types_lock = threading.Lock()
_claims: dict[uuid.UUID, float] = {}  # report id -> monotonic time its claim committed in this process


def _remember_type(report_id: uuid.UUID, report_type: str) -> None:
    with _types_lock:
        _types[report_id] = report_type
        _types.move_to_end(report_id)
        while len(_types) > _TYPE_CACHE_SIZE:
            _types.popitem(last=False)


def remember_type(report_id: uuid.UUID, report_type: str) -> None:
    """Tell the counters a report's type (the lifecycle knows it from a RETURNING row), sparing the lookup
    `_before_commit` would otherwise make for an event of a report this process has not seen yet."""
    _remember_type(report_id, report_type)


def _known_type(report_id: uuid.UUID) -> str | None:
    with _types_lock:
        return _types.get(report_id)


@dataclass
class _Noted:
    report_id: uuid.UUID
    kind: str
    to_status: str | None
    detail: dict[str, Any]


def _value(values: Any, name: str) -> Any:
    bind = values.get(name)
    return getattr(bind, "value", bind)


def _on_execute(state: Any) -> None:
    """do_orm_execute: note INSERTs into report_events (counted only if the transaction commits)."""
    if not state.is_insert:
        return
    stmt = state.statement
    table = getattr(stmt, "table", None)
    if getattr(table, "name", None) != "report_events":
        return
    values = getattr(stmt, "_values", None)
    if not values:
        return
    report_id, kind = _value(values, "report_id"), _value(values, "kind")
    if report_id is None or kind is None:
        return
    noted = _Noted(report_id, str(kind), _value(values, "to_status"), dict(_value(values, "detail") or {}))
    state.session.info.setdefault("reportsvc.metrics", []).append(noted)


def note_event(session: Any, report_id: uuid.UUID, kind: str, to_status: str | None,
               detail: dict[str, Any] | None = None) -> None:
    """Note an event the lifecycle inserted with a prebuilt statement (one `_on_execute` cannot read).

    Same bookkeeping as `_on_execute`: counted in `_after_commit` only if the transaction commits.
    """
    noted = _Noted(report_id, kind, to_status, detail if detail is not None else {})
    session.info.setdefault("reportsvc.metrics", []).append(noted)


def _before_commit(session: Any) -> None:
    """Resolve report types of the noted events (one indexed lookup for those not cached)."""
    noted: list[_Noted] = session.info.get("reportsvc.metrics") or []
    if not noted:
        return
    missing = set()
    for n in noted:
        rtype = n.detail.get("report_type") if n.kind == "created" else None
        if isinstance(rtype, str):
            _remember_type(n.report_id, rtype)
        elif _known_type(n.report_id) is None:
            missing.add(n.report_id)
    if missing:
        from sqlalchemy import text

        try:
            rows = session.execute(
                text("SELECT id, report_type FROM report_requests WHERE id = ANY(:ids)"), {"ids": list(missing)}
            ).all()
        except Exception as exc:  # a PK lookup; if even that fails, the commit that follows fails anyway
            log.warning("metrics: report type lookup failed: %s", exc)
            rows = []
        for rid, rtype in rows:
            _remember_type(rid, rtype)


def _after_commit(session: Any) -> None:
    noted: list[_Noted] = session.info.pop("reportsvc.metrics", None) or []
    if noted:
        _count(noted)


def count_committed(report_id: uuid.UUID, kind: str, to_status: str | None, detail: dict[str, Any]) -> None:
    """Count an event a statement outside the session already committed (autocommit)."""
    rtype = detail.get("report_type") if kind == "created" else None
    if isinstance(rtype, str):
        _remember_type(report_id, rtype)
    _count([_Noted(report_id, kind, to_status, detail)])


def _count(noted: list[_Noted]) -> None:
    batch = Batch()
    now = time.monotonic()
    for n in noted:
        rtype = _known_type(n.report_id) or "unknown"
        for name in _counters_for(n):
            batch.inc(name, {"report_type": rtype} if name in TYPED else None)
        if n.kind == "claimed":
            if len(_claims) > _TYPE_CACHE_SIZE:  # claims lost without an event here: forget the oldest
                for stale in list(_claims)[: _TYPE_CACHE_SIZE // 10]:
                    _claims.pop(stale, None)
            _claims[n.report_id] = now
        elif n.kind in ("completed", "attempt_failed"):
            began = _claims.pop(n.report_id, None)
            if began is not None:
                outcome = "ready" if n.kind == "completed" else "failed"
                batch.observe("report_duration_seconds", now - began, {"report_type": rtype, "outcome": outcome})
        elif n.kind == "stalled":
            _claims.pop(n.report_id, None)
    emit(batch)


def _counters_for(n: _Noted) -> list[str]:
    names = []
    name = _KIND_COUNTERS.get(n.kind)
    if name:
        names.append(name)
    if n.to_status == "FAILED" and n.kind in ("attempt_failed", "stalled"):
        names.append("reports_failed_total")
    return names


def _after_rollback(session: Any) -> None:
    session.info.pop("reportsvc.metrics", None)


_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Hook the session events once per process (create_app calls it through the /metrics blueprint)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        event.listen(Session, "do_orm_execute", _on_execute)
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
        _installed = True
