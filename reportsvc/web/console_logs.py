"""The Logs tab of a report's console page: its own log lines, filterable by attempt and level, live while
it runs (the region polls itself like the detail page). Tracebacks are shown to operators only."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, make_response, render_template, request

from reportsvc.state import queries, report_logs
from reportsvc.state.models import ACTIVE_STATUSES
from reportsvc.web.api import parse_log_query
from reportsvc.web.console import bp
from reportsvc.web.cursors import invalid_cursor, opened, sealed
from reportsvc.web.errors import ApiError
from reportsvc.web.requests import is_htmx

PAGE = 500


@bp.get("/reports/<report_id>/logs")
def report_logs_tab(report_id: str) -> Response:
    """The report's log lines (?attempt=, ?level=, ?cursor=); the region polls while the report is live."""
    parsed = queries.parse_report_id(report_id)
    report = queries.get_report(parsed) if parsed is not None else None
    if report is None:
        abort(404, description="No report with this id. Check that the id is complete and not mistyped.")
    try:
        query = parse_log_query({k: v for k, v in request.args.items() if k in ("attempt", "level")})
        inner = opened("console_report_logs", request.args.get("cursor"))
        after = int(inner) if inner is not None else None
    except (ApiError, ValueError) as exc:
        abort(400, description=exc.message if isinstance(exc, ApiError) else invalid_cursor().message)
    query["limit"] = PAGE
    page = report_logs.page(report.id, after=after, **query)
    filters: dict[str, Any] = {"attempt": query["attempt"], "level": query["min_level"]}
    context = {
        "report": report, "lines": page.items, "filters": filters, "attempts": report_logs.attempts(report.id),
        "levels": report_logs.LEVELS, "logs_live": report.status in ACTIVE_STATUSES and after is None,
        "next_cursor": sealed("console_report_logs", None if page.next_after is None else str(page.next_after)),
    }
    template = "console/reports/_logs.html" if is_htmx() else "console/reports/logs.html"
    response = make_response(render_template(template, **context))
    response.headers.add("Vary", "HX-Request")
    return response
