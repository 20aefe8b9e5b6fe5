"""The JSON API for reports (DESIGN section 6)."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from reportsvc.extensions import db
from reportsvc.ops import jobs, pauses
from reportsvc.redis_client import get_redis
from reportsvc.state import queries, report_logs
from reportsvc.state.models import ReportRequest
from reportsvc.state.storage import StorageUnavailable
from reportsvc.web.access import current_actor
from reportsvc.web.cursors import invalid_cursor, opened, sealed
from reportsvc.web.downloads import FileMissing, pdf_response
from reportsvc.web.errors import ApiError, without_tracebacks
from reportsvc.web.notify_limit import RECIPIENTS_MESSAGE, recipient_refusal
from reportsvc.web.requests import read_json_body
from reportsvc.web.schemas import InputError, validate_create

bp = Blueprint("api", __name__)
log = logging.getLogger("reportsvc.web")


def _settings():  # type: ignore[no-untyped-def]
    return current_app.extensions["reportsvc.settings"]


def _report_id(raw: str) -> uuid.UUID:
    report_id = queries.parse_report_id(raw)
    if report_id is None:
        raise ApiError(400, "invalid_id", f"{raw[:64]!r} is not a valid report id (expected a UUID)")
    return report_id


def _load(raw: str):  # type: ignore[no-untyped-def]
    report = queries.get_report(_report_id(raw))
    if report is None:
        raise ApiError(404, "not_found", "no report with that id")
    return report


@bp.post("/reports")
def create_report() -> Response:
    """Queue a new report; 202 with its id and Location."""
    try:
        fields = validate_create(read_json_body(), fault_injection=_settings().fault_injection,
                                 notify_domains=_settings().guard.notify_email_domains)
    except InputError as exc:
        raise ApiError(422, "invalid_input", str(exc), details=exc.errors) from None
    if fields["notify_email"]:
        retry_after = recipient_refusal(current_actor(), fields["notify_email"])
        if retry_after is not None:
            raise ApiError(429, "rate_limited", f"notify_email: {RECIPIENTS_MESSAGE}",
                           details=[{"field": "notify_email", "message": RECIPIENTS_MESSAGE}],
                           headers={"Retry-After": str(retry_after)})
    if fields["callback_url"] and not _settings().push.webhook_secret:
        raise ApiError(422, "webhooks_disabled", "callback_url needs WEBHOOK_SECRET set on the server")
    report = jobs.submit(requested_by=current_actor(), **fields)
    response = jsonify({"id": str(report.id), "status": "PENDING", "message": "Report generation started"})
    response.status_code = 202
    # What url_for("api.get_report", ...) builds, without a URL adapter per request.
    response.headers["Location"] = f"{request.script_root}/reports/{report.id}"
    return response


@bp.get("/reports")
def list_reports() -> Response:
    """Newest-first keyset page with optional status / q / schedule_id filters."""
    try:
        limit = int(request.args.get("limit", "50"))
    except ValueError:
        raise ApiError(400, "invalid_filter", "limit must be a whole number") from None
    try:
        page = queries.list_reports(
            status=request.args.get("status") or None,
            q=request.args.get("q") or None,
            limit=limit,
            cursor=opened("reports", request.args.get("cursor")),
            schedule_id=request.args.get("schedule_id") or None,
        )
    except queries.QueryError as exc:
        if exc.field == "cursor":
            raise invalid_cursor() from None
        raise ApiError(400, "invalid_filter", str(exc), details=[{"field": exc.field, "message": str(exc)}]) from None
    return jsonify({"items": [r.to_dict() for r in page.items], "next_cursor": sealed("reports", page.next_cursor)})


@bp.get("/reports/<report_id>")
def get_report(report_id: str) -> Response:
    """The full record, with its timeline."""
    report = _load(report_id)
    body = report.to_dict()
    body["events"] = without_tracebacks([e.to_dict() for e in queries.events(report.id)])
    return jsonify(body)


@bp.get("/reports/<report_id>/status")
def report_status(report_id: str) -> Response:
    """The small record a client polls (its columns only: the hottest read of the API)."""
    body = queries.report_status(_report_id(report_id))
    if body is None:
        raise ApiError(404, "not_found", "no report with that id")
    body["queue_paused"] = False
    if body["status"] == "PENDING":
        pause = pauses.pause_of_pending(get_redis(), jobs.queue_of(body))
        if pause is not None:
            body["queue_paused"], body["note"] = True, pauses.note_for(pause)
    return jsonify(body)


@bp.get("/reports/<report_id>/logs")
def report_logs_page(report_id: str) -> Response:
    """The report's own log, oldest first, paged: ?attempt=N&level=WARNING&limit=1..500&cursor=."""
    rid = _load(report_id).id
    query = parse_log_query(request.args)
    inner = opened("report_logs", request.args.get("cursor"))
    try:
        after = int(inner) if inner is not None else None
    except ValueError:
        raise invalid_cursor() from None
    page = report_logs.page(rid, after=after, **query)
    return jsonify({"items": without_tracebacks([line.to_dict() for line in page.items]),
                    "next_cursor": sealed("report_logs", None if page.next_after is None else str(page.next_after))})


def parse_log_query(args: Any) -> dict[str, Any]:
    """limit, attempt and min_level from the query string, or 400 invalid_filter naming the field."""
    def fail(field: str, message: str) -> ApiError:
        return ApiError(400, "invalid_filter", message, details=[{"field": field, "message": message}])

    out: dict[str, Any] = {"limit": 100, "attempt": None, "min_level": None}
    raw_limit, raw_attempt, raw_level = args.get("limit"), args.get("attempt"), args.get("level")
    if raw_limit:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= report_logs.MAX_LIMIT:
            raise fail("limit", f"limit must be a whole number from 1 to {report_logs.MAX_LIMIT}")
        out["limit"] = int(raw_limit)
    if raw_attempt:
        if not raw_attempt.isdigit() or not 1 <= int(raw_attempt) <= 1_000_000:
            raise fail("attempt", "attempt must be a whole number from 1")
        out["attempt"] = int(raw_attempt)
    if raw_level:
        if raw_level.upper() not in report_logs.LEVELS:
            raise fail("level", f"level must be one of {', '.join(report_logs.LEVELS)}")
        out["min_level"] = raw_level.upper()
    return out


@bp.get("/reports/<report_id>/download")
def download(report_id: str) -> Response:
    """The PDF of a READY report (streamed, or a 302 to a presigned URL when that is switched on)."""
    report = _load(report_id)
    _check_downloadable(report)
    try:
        return pdf_response(report)
    except FileMissing:
        # Retention marks the row expired before it deletes the file, so reading the row again tells an
        # expired PDF (410 file_expired) from a lost one (410 file_missing).
        db.session.expire(report)
        _check_downloadable(_load(report_id))
        raise ApiError(410, "file_missing", "the report is READY but its file is missing from storage; "
                       "retry the report to render it again") from None
    except StorageUnavailable as exc:
        log.warning("Job %s download refused, the report store is unavailable: %s", report.id, exc)
        raise ApiError(503, "storage_unavailable", "the report store cannot be reached right now; "
                       "try again shortly") from None


def _check_downloadable(report: ReportRequest) -> None:
    """ApiError 410 / 409 when the report has no PDF to serve."""
    if report.status == "READY" and report.file_expired_at is not None:
        raise ApiError(410, "file_expired", f"the report's PDF was deleted by the retention policy on "
                       f"{report.file_expired_at.isoformat(timespec='seconds')}; create the report again for a new one")
    if report.status != "READY" or not report.file_path:
        raise ApiError(409, "not_ready", f"report is {report.status}; only READY reports can be downloaded")


@bp.delete("/reports/<report_id>")
def cancel(report_id: str) -> Response:
    """Cancel a PENDING report (200, repeat too) or ask a RUNNING one to stop (202); every attempt is audited."""
    report = _load(report_id)
    rid = report.id
    outcome = jobs.cancel(rid, actor=current_actor(), via="api")
    if not outcome.ok:
        raise ApiError(409, "conflict",
                       f"report is {outcome.status}; only PENDING and RUNNING reports can be cancelled")
    if outcome.cancel_requested:
        response = jsonify({"id": str(rid), "status": "RUNNING", "cancel_requested": True})
        response.status_code = 202
        return response
    return jsonify({"id": str(rid), "status": "CANCELLED"})


@bp.post("/reports/<report_id>/retry")
def retry(report_id: str) -> Response:
    """Retry a FAILED report; every attempt is audited."""
    report = _load(report_id)
    rid = report.id
    outcome = jobs.retry(rid, actor=current_actor(), via="api")
    if not outcome.ok:
        raise ApiError(409, "conflict", f"report is {outcome.status}; only FAILED reports can be retried")
    response = jsonify({"id": str(rid), "status": "PENDING"})
    response.status_code = 202
    return response
