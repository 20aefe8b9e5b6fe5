"""The JSON API for schedules: /schedules (viewers read, operators write; every change audited)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for

from reportsvc import reports
from reportsvc.ops import cron
from reportsvc.ops import schedules as service
from reportsvc.state import schedules as store
from reportsvc.state.models import ReportRequest
from reportsvc.state.schedule_model import ReportSchedule
from reportsvc.web.access import current_actor
from reportsvc.web.errors import ApiError
from reportsvc.web.requests import read_json_body
from reportsvc.web.schedule_schemas import validate_change, validate_new
from reportsvc.web.schemas import InputError

bp = Blueprint("schedules_api", __name__)

RUNS_SHOWN = 20


def _load(raw: str) -> ReportSchedule:
    schedule_id = store.parse_id(raw)
    if schedule_id is None:
        raise ApiError(400, "invalid_id", f"{raw[:64]!r} is not a valid schedule id (expected a UUID)")
    row = store.get(schedule_id)
    if row is None:
        raise ApiError(404, "not_found", "no schedule with that id")
    return row


def _invalid(exc: InputError | reports.ParamsError) -> ApiError:
    return ApiError(422, "invalid_input", str(exc), details=exc.errors)


def _name_taken(fields: dict[str, Any]) -> ApiError:
    return ApiError(409, "conflict", f"a schedule named {fields['name']!r} exists already",
                    details=[{"field": "name", "message": "is in use"}])


def _changed(updated: ReportSchedule | None) -> Response:
    # The service answers None when the row went away between the load and the change.
    if updated is None:
        raise ApiError(404, "not_found", "no schedule with that id")
    return jsonify(schedule_body(updated, detail=True))


def run_dict(report: ReportRequest) -> dict[str, Any]:
    """One run of a schedule: its report, slot and status."""
    return {"report_id": str(report.id), "status": report.status,
            "scheduled_for": report.scheduled_for.isoformat() if report.scheduled_for else None,
            "created_at": report.created_at.isoformat() if report.created_at else None}


def schedule_body(row: ReportSchedule, *, detail: bool = False,
                  last_run: tuple[Any, str] | None = None) -> dict[str, Any]:
    """A schedule as the API answers it; with `detail`, its next 5 runs and last 20 runs."""
    body = row.to_dict() | {"description": cron.describe(row.cron, row.timezone)}
    if last_run is not None:
        body["last_run"] = {"report_id": str(last_run[0]), "status": last_run[1]}
    if detail:
        try:
            upcoming = service.preview(row.cron, row.timezone, 5) if row.enabled else []
        except cron.CronError:
            upcoming = []
        body["next_runs"] = [moment.isoformat() for moment in upcoming]
        body["runs"] = [run_dict(report) for report in store.runs(row.id, RUNS_SHOWN)]
    return body


def _webhooks_configured(fields: dict[str, Any]) -> None:
    """A callback_url needs WEBHOOK_SECRET on the server, as on POST /reports."""
    if fields.get("callback_url") and not current_app.extensions["reportsvc.settings"].push.webhook_secret:
        raise ApiError(422, "webhooks_disabled", "callback_url needs WEBHOOK_SECRET set on the server")


@bp.post("/schedules")
def create_schedule() -> Response:
    """Create a schedule; 201 with it and Location."""
    try:
        fields = validate_new(read_json_body())
    except InputError as exc:
        raise _invalid(exc) from None
    _webhooks_configured(fields)
    try:
        row = service.create(fields, actor=current_actor(), via="api")
    except store.NameTaken:
        raise _name_taken(fields) from None
    response = jsonify(schedule_body(row, detail=True))
    response.status_code = 201
    response.headers["Location"] = url_for("schedules_api.get_schedule", schedule_id=str(row.id))
    return response


@bp.get("/schedules")
def list_schedules() -> Response:
    """Newest-first keyset page of schedules, each with its last run."""
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError:
        raise ApiError(400, "invalid_filter", "limit must be a whole number") from None
    try:
        page = store.list_page(limit=limit, cursor=request.args.get("cursor") or None)
    except store.ScheduleQueryError as exc:
        raise ApiError(400, "invalid_filter", str(exc), details=[{"field": exc.field, "message": str(exc)}]) from None
    items = [schedule_body(row, last_run=page.last_runs.get(row.id)) for row in page.items]
    return jsonify({"items": items, "next_cursor": page.next_cursor})


@bp.get("/schedules/<schedule_id>")
def get_schedule(schedule_id: str) -> Response:
    """One schedule with its next 5 runs and its last 20 runs."""
    return jsonify(schedule_body(_load(schedule_id), detail=True))


@bp.patch("/schedules/<schedule_id>")
def update_schedule(schedule_id: str) -> Response:
    """Change some fields; a new cron or zone moves the next run."""
    row = _load(schedule_id)
    try:
        fields = validate_change(row, read_json_body())
    except InputError as exc:
        raise _invalid(exc) from None
    _webhooks_configured(fields)
    try:
        updated = service.update(row, fields, actor=current_actor(), via="api")
    except store.NameTaken:
        raise _name_taken(fields) from None
    return _changed(updated)


@bp.delete("/schedules/<schedule_id>")
def delete_schedule(schedule_id: str) -> Response:
    """Delete a schedule; its reports stay."""
    row = _load(schedule_id)
    rid, name = str(row.id), row.name
    service.delete(row, actor=current_actor(), via="api")
    return jsonify({"id": rid, "name": name, "deleted": True})


@bp.post("/schedules/<schedule_id>/pause")
def pause_schedule(schedule_id: str) -> Response:
    """Stop making reports (a repeat is 200)."""
    updated = service.pause(_load(schedule_id), actor=current_actor(), via="api")
    return _changed(updated)


@bp.post("/schedules/<schedule_id>/resume")
def resume_schedule(schedule_id: str) -> Response:
    """Start again from the next slot after now (a repeat is 200); 422 while its type or params are invalid."""
    row = _load(schedule_id)
    try:
        updated = service.resume(row, actor=current_actor(), via="api")
    except cron.CronError as exc:
        raise ApiError(422, "invalid_input", f"{exc.field}: {exc}",
                       details=[{"field": exc.field, "message": str(exc)}]) from None
    except reports.ParamsError as exc:
        raise _invalid(exc) from None
    return _changed(updated)


@bp.post("/schedules/<schedule_id>/run")
def run_schedule(schedule_id: str) -> Response:
    """Make one report now (linked to the schedule, no slot); 202 with the report id."""
    row = _load(schedule_id)
    try:
        report = service.run_now(row, actor=current_actor(), via="api")
    except reports.ParamsError as exc:
        raise _invalid(exc) from None
    response = jsonify({"id": str(report.id), "status": "PENDING", "schedule_id": str(row.id),
                        "message": "Report generation started"})
    response.status_code = 202
    response.headers["Location"] = url_for("api.get_report", report_id=str(report.id))
    return response
