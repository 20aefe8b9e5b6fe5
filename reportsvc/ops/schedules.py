"""Schedules in the service layer: operator changes (audited) and the poll that makes one report per due slot.

The poll runs in every scheduler process every SCHEDULE_POLL_SECONDS. It locks a bounded batch of due
schedules (`state.schedules.lock_due`: SKIP LOCKED, so two schedulers share the work instead of
queueing on it) and submits each slot's report through the normal create path (`jobs.submit`), the
report carrying `schedule_id` and `scheduled_for`. The unique key on (schedule_id, scheduled_for) is
what makes "exactly one report per slot" hold, not the lock: a scheduler that dies after the INSERT
and before the next-run update leaves the schedule due, the next poll computes the same slot, the
INSERT finds the slot taken (`lifecycle.SlotTaken`) and the schedule just moves on.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from reportsvc import reports
from reportsvc.config import Settings
from reportsvc.extensions import db
from reportsvc.ops import cron, jobs
from reportsvc.state import audit, lifecycle
from reportsvc.state import schedules as store
from reportsvc.state.models import ReportRequest
from reportsvc.state.schedule_model import ReportSchedule

log = logging.getLogger("reportsvc.ops.schedules")

#: The scheduler's name in the audit log and as `requested_by` prefix.
SCHEDULER_ACTOR = "scheduler"


@dataclass
class PollResult:
    """What one poll did."""

    examined: int = 0
    made: int = 0
    already_made: int = 0
    skipped: int = 0
    paused: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the scheduler's log ("examined 0," keeps quiet polls at debug level)."""
        line = f"examined {self.examined}, made {self.made} reports"
        if self.already_made:
            line += f", {self.already_made} slots already had their report"
        if self.skipped:
            line += f", skipped {self.skipped} missed slots"
        if self.paused:
            line += f", paused {', '.join(self.paused)} (invalid)"
        return line


def _now() -> datetime:
    return datetime.now(UTC)


def problem(row: ReportSchedule) -> str | None:
    """Why the schedule cannot make a report now (its cron, zone, type or params), or None."""
    try:
        cron.parse(row.cron, row.timezone)
        reports.validate_params(row.report_type, row.params)
    except cron.CronError as exc:
        return f"{exc.field}: {exc}"
    except reports.ParamsError as exc:
        return "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors) or str(exc)
    return None


def _title(row: ReportSchedule, moment: datetime) -> str:
    return cron.fill_title(row.title or f"{row.name} {{date}}", moment, row.timezone) or row.name


def _submit(row: ReportSchedule, slot: datetime | None, requested_by: str) -> ReportRequest:
    """One report of the schedule through the normal create path; SlotTaken when the slot has its report."""
    params = reports.validate_params(row.report_type, row.params)
    link = lifecycle.ScheduleLink(row.id, slot, row.name, tuple(row.recipients or ()))
    return jobs.submit(report_type=row.report_type, title=_title(row, slot or _now()), params=params,
                       notify_email=None, requested_by=requested_by, schedule=link, callback_url=row.callback_url)


def _handle(row: ReportSchedule, now: datetime, settings: Settings, result: PollResult) -> None:
    """Make the due slot's report (or skip it), then move next_run_at past now; the caller commits."""
    reason = problem(row)
    if reason is not None:
        row.enabled, row.paused_reason, row.next_run_at = False, f"paused by the scheduler: {reason}", None
        row.updated_by, row.updated_at = SCHEDULER_ACTOR, now
        result.paused.append(row.name)
        log.warning("Schedule %s (%s) paused: %s", row.name, row.id, reason)
        return
    parsed = cron.parse(row.cron, row.timezone)
    due = row.next_run_at or now
    latest = parsed.latest_due(due, now)
    slot = latest
    if latest is not None and row.misfire == "skip" and now - latest > timedelta(
            seconds=settings.schedule_misfire_grace_seconds):
        slot = None  # missed by more than the grace: skip, and wait for the next future slot
        result.skipped += 1
        log.info("Schedule %s missed its slot %s (misfire=skip): no report", row.name, latest.isoformat())
    if slot is not None:
        try:
            report = _submit(row, slot, f"schedule:{row.name}"[:255])
        except lifecycle.SlotTaken:
            result.already_made += 1
            log.info("Schedule %s slot %s already has its report", row.name, slot.isoformat())
        else:
            result.made += 1
            row.last_run_at, row.last_report_id = slot, report.id
    row.next_run_at = parsed.next_after(max(latest or due, now))


def poll(settings: Settings, now: datetime | None = None) -> PollResult:
    """Take one batch of due schedules and make their reports (see the module docstring).

    When Redis refuses a report's message, the create path records that on the session and commits,
    which ends this transaction and its row locks early; the rest of the batch then runs unlocked. That
    costs no correctness: another scheduler taking the same schedule meanwhile finds its slot taken.
    """
    now = now or _now()
    result = PollResult()
    session = db.session()
    try:
        rows = store.lock_due(now, settings.schedule_batch_size)
        result.examined = len(rows)
        for row in rows:
            _handle(row, now, settings, result)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    for name in result.paused:
        audit.record(SCHEDULER_ACTOR, "schedule.pause", f"schedule:{name}", "ok", {"via": "scheduler",
                                                                                     "reason": "invalid"})
    return result


def poll_until_idle(settings: Settings, now: datetime | None = None, max_batches: int = 100) -> PollResult:
    """Poll batch after batch until nothing is due (the CLI and tests; the scheduler polls one batch a tick)."""
    total = PollResult()
    for _ in range(max_batches):
        one = poll(settings, now)
        total.examined += one.examined
        total.made += one.made
        total.already_made += one.already_made
        total.skipped += one.skipped
        total.paused += one.paused
        if one.examined < settings.schedule_batch_size:
            break
    return total


# -- operator actions (API, console, CLI): each audited ------------------------------------------------


def preview(expression: str, timezone: str, count: int = 5, now: datetime | None = None) -> list[datetime]:
    """The next `count` runs of a cron in a zone (CronError names the bad field)."""
    return cron.parse(expression, timezone).upcoming(now or _now(), count)


def create(fields: dict[str, Any], *, actor: str, via: str) -> ReportSchedule:
    """Store a validated schedule with its first slot; store.NameTaken when the name is in use."""
    parsed = cron.parse(fields["cron"], fields["timezone"])
    values = {**fields, "cron": parsed.expression, "enabled": True, "paused_reason": None,
              "next_run_at": parsed.next_after(_now())}
    try:
        row = store.insert(values, actor)
    except store.NameTaken:
        audit.record(actor, "schedule.create", f"schedule-name:{fields['name']}", "refused",
                     {"via": via, "reason": "name in use"})
        raise
    audit.record(actor, "schedule.create", f"schedule:{row.id}", "ok",
                 {"via": via, "name": row.name, "cron": row.cron, "timezone": row.timezone})
    return row


def update(row: ReportSchedule, fields: dict[str, Any], *, actor: str, via: str) -> ReportSchedule | None:
    """Change a schedule; a new cron or zone recomputes the next slot from now (when it is enabled)."""
    values = dict(fields)
    timing = {"cron", "timezone"} & values.keys()
    if timing:
        parsed = cron.parse(values.get("cron", row.cron), values.get("timezone", row.timezone))
        values["cron"] = parsed.expression
        if row.enabled:
            values["next_run_at"] = parsed.next_after(_now())
    schedule_id = row.id
    try:
        updated = store.change(schedule_id, values, actor)
    except store.NameTaken:
        audit.record(actor, "schedule.update", f"schedule:{schedule_id}", "refused",
                     {"via": via, "reason": "name in use"})
        raise
    audit.record(actor, "schedule.update", f"schedule:{schedule_id}", "ok" if updated else "refused",
                 {"via": via, "fields": sorted(fields)})
    return updated


def pause(row: ReportSchedule, *, actor: str, via: str, reason: str | None = None) -> ReportSchedule | None:
    """Stop making reports until resumed (a repeat is a no-op, audited as such)."""
    schedule_id, was_enabled = row.id, row.enabled
    updated = store.change(schedule_id, {"enabled": False, "next_run_at": None,
                                         "paused_reason": reason or f"paused by {actor}"}, actor) \
        if was_enabled else row
    audit.record(actor, "schedule.pause", f"schedule:{schedule_id}", "ok" if was_enabled else "noop", {"via": via})
    return updated


def resume(row: ReportSchedule, *, actor: str, via: str) -> ReportSchedule | None:
    """Enable again; the next slot is computed from now (no catching up on the paused time).

    A schedule the scheduler paused as invalid is checked again first: cron.CronError or
    reports.ParamsError when it still cannot run."""
    schedule_id, was_enabled = row.id, row.enabled
    cron.parse(row.cron, row.timezone)
    reports.validate_params(row.report_type, row.params)
    updated: ReportSchedule | None = row
    if not was_enabled:
        next_run = cron.parse(row.cron, row.timezone).next_after(_now())
        updated = store.change(schedule_id, {"enabled": True, "paused_reason": None, "next_run_at": next_run},
                               actor)
    audit.record(actor, "schedule.resume", f"schedule:{schedule_id}", "ok" if not was_enabled else "noop",
                 {"via": via})
    return updated


def run_now(row: ReportSchedule, *, actor: str, via: str) -> ReportRequest:
    """One report right away, linked to the schedule but to no slot (`scheduled_for` NULL); paused or not."""
    schedule_id = row.id
    report = _submit(row, None, actor)
    store.remember_run(schedule_id, report.id, _now())
    audit.record(actor, "schedule.run", f"schedule:{schedule_id}", "ok", {"via": via, "report_id": str(report.id)})
    return report


def delete(row: ReportSchedule, *, actor: str, via: str) -> None:
    """Delete the schedule; its reports stay, naming it as "deleted schedule NAME"."""
    schedule_id, name = row.id, row.name
    store.remove(schedule_id)
    audit.record(actor, "schedule.delete", f"schedule:{schedule_id}", "ok", {"via": via, "name": name})


def by_id_or_name(key: str) -> ReportSchedule | None:
    """A schedule by id, else by name (the CLI accepts either)."""
    schedule_id = store.parse_id(key)
    found = store.get(schedule_id) if schedule_id else None
    return found or store.get_by_name(key)


def slot_report(schedule_id: uuid.UUID, slot: datetime) -> uuid.UUID | None:
    """The report of one slot, if made (tests and the console)."""
    from sqlalchemy import select

    return db.session.execute(select(ReportRequest.id).where(ReportRequest.schedule_id == schedule_id,
                                                             ReportRequest.scheduled_for == slot)).scalar()
