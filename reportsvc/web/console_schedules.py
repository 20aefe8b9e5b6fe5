"""Console pages for schedules: the list, create/edit with a live preview of the next runs, the detail page
with its run history, and pause / resume / run now / delete.

Everything goes through ops/schedules.py and schedule_schemas.py, so the console accepts and refuses exactly
what the API does, and audits the same way (`via: console`). Forms are plain POSTs that work without
JavaScript; with HTMX the actions ask for confirmation first and the preview follows the cron as it is typed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, make_response, redirect, render_template, request, url_for

from reportsvc import reports
from reportsvc.ops import cron
from reportsvc.ops import schedules as service
from reportsvc.state import schedules as store
from reportsvc.state.schedule_model import ReportSchedule
from reportsvc.web.access import current_actor
from reportsvc.web.requests import is_htmx
from reportsvc.web.schedule_schemas import validate_change, validate_new
from reportsvc.web.schemas import InputError

bp = Blueprint("console_schedules", __name__, url_prefix="/console")

FORM_FIELDS = ("name", "cron", "timezone", "report_type", "params", "title", "recipients", "misfire")


def relative(moment: datetime | None, now: datetime | None = None) -> str:
    """`in 3 h`, `in 12 min`, `2 d ago`: how far a moment is from now, in the largest whole unit."""
    if moment is None:
        return "—"
    seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    span = abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if span >= size:
            amount = f"{int(span // size)} {unit}"
            break
    else:
        return "now" if span < 1 else ("in a few s" if seconds > 0 else "a few s ago")
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def local(moment: datetime | None, timezone: str) -> str:
    """The moment in the schedule's zone, e.g. `Mon 2026-12-07 08:00 CET`."""
    if moment is None:
        return "—"
    try:
        return moment.astimezone(cron.zone(timezone)).strftime("%a %Y-%m-%d %H:%M %Z")
    except cron.CronError:
        return moment.astimezone(UTC).strftime("%a %Y-%m-%d %H:%M UTC")


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"schedule_words": cron.describe, "schedule_relative": relative, "schedule_local": local}


def _load(raw: str) -> ReportSchedule:
    schedule_id = store.parse_id(raw)
    row = store.get(schedule_id) if schedule_id else None
    if row is None:
        abort(404)
    return row


def _form_values(row: ReportSchedule | None = None) -> dict[str, str]:
    if row is None:
        return {"name": "", "cron": "0 8 * * 1", "timezone": "UTC", "report_type": reports.DEFAULT_REPORT_TYPE,
                "params": "{}", "title": "", "recipients": "", "misfire": "latest"}
    return {"name": row.name, "cron": row.cron, "timezone": row.timezone, "report_type": row.report_type,
            "params": json.dumps(row.params or {}, indent=2), "title": row.title or "",
            "recipients": ", ".join(row.recipients or []), "misfire": row.misfire}


def _raw_from_form(errors: dict[str, str]) -> dict[str, Any]:
    """The form as the API's JSON body; a params box that is not a JSON object is an error on `params`."""
    values = {name: request.form.get(name, "") for name in FORM_FIELDS}
    raw: dict[str, Any] = {name: values[name].strip() for name in ("name", "cron", "timezone", "report_type",
                                                                    "misfire") if values[name].strip()}
    raw["title"] = values["title"].strip() or None
    raw["recipients"] = [part.strip() for part in values["recipients"].replace(";", ",").replace("\n", ",")
                         .split(",") if part.strip()]
    try:
        params = json.loads(values["params"] or "{}")
    except ValueError as exc:
        errors["params"] = f"is not valid JSON: {exc}"
        params = {}
    if not isinstance(params, dict):
        errors["params"] = "must be a JSON object, e.g. {\"window_hours\": 24}"
        params = {}
    raw["params"] = params
    return raw


def _field_errors(exc: InputError) -> dict[str, str]:
    out: dict[str, str] = {}
    for error in exc.errors:
        name = error["field"].split(".", 1)[0]
        name = name if name in FORM_FIELDS else "name" if name == "body" else name
        message = error["message"] if name == error["field"] else f"{error['field']}: {error['message']}"
        out[name] = f"{out[name]}; {message}" if name in out else message
    return out


def _form_page(row: ReportSchedule | None, values: dict[str, str], errors: dict[str, str], status: int) -> Response:
    preview, preview_error = _preview(values.get("cron", ""), values.get("timezone", ""))
    html = render_template("console/schedules/form.html", schedule=row, values=values, errors=errors,
                           types=reports.names(), zones=cron.common_zones(), preview=preview,
                           preview_error=preview_error, timezone=values.get("timezone") or "UTC")
    return make_response(html, status)


def _preview(expression: str, timezone: str) -> tuple[list[datetime], str | None]:
    try:
        return service.preview(expression, timezone or "UTC", 5), None
    except cron.CronError as exc:
        return [], f"{exc.field}: {exc}"


@bp.get("/schedules")
def index() -> str:
    """Every schedule: the cron in words, next run, last run's status, paused or not."""
    try:
        page = store.list_page(limit=200, cursor=request.args.get("cursor") or None)
    except store.ScheduleQueryError:
        page = store.list_page(limit=200)
    return render_template("console/schedules/index.html", page=page, now=datetime.now(UTC))


@bp.get("/schedules/new")
def new() -> Response:
    """The create form."""
    return _form_page(None, _form_values(), {}, 200)


@bp.get("/schedules/preview")
def preview() -> str:
    """The next 5 runs of the cron and zone typed so far (the form's live preview, an HTMX fragment)."""
    timezone = request.args.get("timezone", "").strip() or "UTC"
    runs, error = _preview(request.args.get("cron", ""), timezone)
    return render_template("console/schedules/_preview.html", preview=runs, preview_error=error, timezone=timezone)


@bp.post("/schedules")
def create() -> Response:
    """Create from the form; the form again with an error beside each bad field (422)."""
    errors: dict[str, str] = {}
    raw = _raw_from_form(errors)
    values = {name: request.form.get(name, "") for name in FORM_FIELDS}
    try:
        fields = validate_new(raw)
    except InputError as exc:
        errors = _field_errors(exc) | errors
    if errors:
        return _form_page(None, values, errors, 422)
    try:
        row = service.create(fields, actor=current_actor(), via="console")
    except store.NameTaken:
        return _form_page(None, values, {"name": "another schedule has this name"}, 422)
    flash(f"Schedule {row.name} created: {cron.describe(row.cron, row.timezone)}.", "success")
    return redirect(url_for("console_schedules.detail", schedule_id=str(row.id)), 303)  # type: ignore[return-value]


@bp.get("/schedules/<schedule_id>")
def detail(schedule_id: str) -> str:
    """One schedule: its settings, next runs and run history, with its actions."""
    row = _load(schedule_id)
    runs, _error = _preview(row.cron, row.timezone) if row.enabled else ([], None)
    return render_template("console/schedules/detail.html", schedule=row, upcoming=runs,
                           runs=store.runs(row.id, 50), now=datetime.now(UTC))


@bp.get("/schedules/<schedule_id>/edit")
def edit(schedule_id: str) -> Response:
    """The edit form."""
    row = _load(schedule_id)
    return _form_page(row, _form_values(row), {}, 200)


@bp.post("/schedules/<schedule_id>/edit")
def update(schedule_id: str) -> Response:
    """Save the edit form; the form again with inline errors (422)."""
    row = _load(schedule_id)
    errors: dict[str, str] = {}
    raw = _raw_from_form(errors)
    values = {name: request.form.get(name, "") for name in FORM_FIELDS}
    try:
        fields = validate_change(row, raw)
    except InputError as exc:
        errors = _field_errors(exc) | errors
    if errors:
        return _form_page(row, values, errors, 422)
    try:
        service.update(row, fields, actor=current_actor(), via="console")
    except store.NameTaken:
        return _form_page(row, values, {"name": "another schedule has this name"}, 422)
    flash("Schedule saved.", "success")
    return redirect(url_for("console_schedules.detail", schedule_id=schedule_id), 303)  # type: ignore[return-value]


@bp.post("/schedules/<schedule_id>/<action>")
def act(schedule_id: str, action: str) -> Response:
    """pause, resume, run (now) or delete; back to the detail page (the list after a delete) with a message."""
    row = _load(schedule_id)
    name, actor = row.name, current_actor()
    back = url_for("console_schedules.detail", schedule_id=schedule_id)
    if action == "pause":
        service.pause(row, actor=actor, via="console")
        flash(f"Schedule {name} paused: it makes no reports until resumed.", "success")
    elif action == "resume":
        try:
            service.resume(row, actor=actor, via="console")
            flash(f"Schedule {name} resumed.", "success")
        except (cron.CronError, reports.ParamsError) as exc:
            flash(f"Schedule {name} cannot resume: {exc}", "error")
    elif action == "run":
        try:
            report = service.run_now(row, actor=actor, via="console")
        except reports.ParamsError as exc:
            flash(f"Schedule {name} cannot run: {exc}", "error")
        else:
            flash(f"Report {str(report.id)[:8]} queued from schedule {name}.", "success")
            back = url_for("console.detail", report_id=str(report.id))
    elif action == "delete":
        service.delete(row, actor=actor, via="console")
        flash(f"Schedule {name} deleted; its reports stay.", "success")
        back = url_for("console_schedules.index")
    else:
        abort(404)
    if is_htmx():
        # A full navigation, so the address bar and the flash message follow (not a swap into the button).
        response = make_response("", 200)
        response.headers["HX-Redirect"] = back
        return response
    return redirect(back, 303)  # type: ignore[return-value]
