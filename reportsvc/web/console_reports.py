"""Console pages for reports: the live list, the live-row and counts fragments, the generate form,
the detail page with timeline and message location, and the actions (cancel, retry, download).

Every page answers a plain request with the full page and an HTMX request with the fragment it swaps,
so every response carries `Vary: HX-Request`. Mutations are POSTs only (easy to protect with CSRF).
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any
from urllib.parse import urlencode

from flask import (
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from reportsvc.extensions import db
from reportsvc.ops import jobs
from reportsvc.state import queries
from reportsvc.state.models import ACTIVE_STATUSES, STATUSES, ReportRequest
from reportsvc.state.storage import StorageUnavailable
from reportsvc.web import security
from reportsvc.web.access import current_actor
from reportsvc.web.console import bp
from reportsvc.web.console_format import when_full
from reportsvc.web.console_forms import blank_form, form_for, parse
from reportsvc.web.cursors import invalid_cursor, opened, sealed
from reportsvc.web.downloads import FileMissing, pdf_response
from reportsvc.web.errors import error_page
from reportsvc.web.notify_limit import RECIPIENTS_MESSAGE, recipient_refusal
from reportsvc.web.requests import is_htmx

LIST_LIMIT = 25
#: A live-row poll names at most this many ids (one page's worth, with room to spare).
MAX_LIVE_IDS = 100


def _settings() -> Any:
    return current_app.extensions["reportsvc.settings"]


def _vary(response: Response) -> Response:
    response.headers.add("Vary", "HX-Request")
    return response


def _filters() -> dict[str, str]:
    """The list's filters from the query string, cleaned; unknown status is a 400 page."""
    status = (request.args.get("status") or "").strip().upper()
    if status and status not in STATUSES:
        abort(400, description=f"Unknown status {status[:20]!r}. Use one of: {', '.join(STATUSES)}.")
    out = {"status": status, "q": (request.args.get("q") or "").strip()[:200],
           "older": request.args.get("older") or "", "newer": request.args.get("newer") or ""}
    return {k: v for k, v in out.items() if v}


def list_url(**params: str | None) -> str:
    """URL of the reports list with these filters (empty ones dropped), for links and the address bar."""
    clean = {k: v for k, v in params.items() if v}
    return url_for("console.index") + ("?" + urlencode(clean) if clean else "")


def _list_context() -> dict[str, Any]:
    filters = _filters()
    try:
        page = queries.list_reports(status=filters.get("status"), q=filters.get("q"), limit=LIST_LIMIT,
                                    cursor=opened("reports", filters.get("older")),
                                    before=opened("reports", filters.get("newer")))
    except queries.QueryError as exc:
        if exc.field == "cursor":
            raise invalid_cursor() from None
        abort(400, description=str(exc))
    page = dataclasses.replace(page, next_cursor=sealed("reports", page.next_cursor),
                               prev_cursor=sealed("reports", page.prev_cursor))
    return {
        "page": page,
        "filters": filters,
        "counts": queries.status_counts(),
        "statuses": STATUSES,
        "self_url": list_url(**filters),
        "list_url": list_url,
    }


@bp.get("/")
def index() -> Response:
    """Reports list: newest first, status tabs with counts, search, keyset pages, generate form."""
    ctx = _list_context()
    if is_htmx():
        response = make_response(render_template("console/reports/_list.html", oob_filters=True, **ctx))
    else:
        response = make_response(render_template("console/reports/index.html", form=blank_form(), form_open=False,
                                                  fault_injection=_settings().fault_injection, **ctx))
    return _vary(response)


@bp.get("/reports/form")
def generate_form() -> Response:
    """The generate form for another report type (HTMX swaps it in when the type select changes)."""
    form = blank_form(request.args.get("report_type"), keep=request.args)
    if is_htmx():
        return _vary(make_response(render_template("console/reports/_form.html", form=form,
                                                   fault_injection=_settings().fault_injection)))
    ctx = _list_context()
    return _vary(make_response(render_template("console/reports/index.html", form=form, form_open=True,
                                               fault_injection=_settings().fault_injection, **ctx)))


@bp.get("/live")
def live_rows() -> Response:
    """Fresh rows for the visible live ids in ONE query, as out-of-band swaps (plus the counts)."""
    ids: list[uuid.UUID] = []
    for raw in (request.args.get("ids") or "").split(",")[:MAX_LIVE_IDS]:
        parsed = queries.parse_report_id(raw.strip())
        if parsed is not None:
            ids.append(parsed)
    rows = queries.get_reports(ids)
    html = render_template("console/reports/_live.html", rows=rows, counts=queries.status_counts())
    return _vary(make_response(html))


@bp.get("/counts")
def counts() -> Response:
    """The status counts as out-of-band spans for the tabs (cheap: see queries.status_counts)."""
    return _vary(make_response(render_template("console/reports/_counts_oob.html", counts=queries.status_counts())))


@security.form_refusal("console.create")
def _refused_field(field: str, message: str) -> Response:
    """The input guard refused a field of the generate form (a control character): for HTMX, the form again
    with the error beside that field, not the whole error page inside the card."""
    settings = _settings()
    chosen = str(request.form.get("report_type", "") or "")[:64]
    form = form_for(chosen) if chosen else blank_form()
    names = {*form.values, "report_type", "title", "notify_email", *(f.input_name for f in form.fields)}
    form.values.update({name: "".join(ch for ch in str(request.form.get(name, ""))[:500] if ch.isprintable())
                        for name in names if name in request.form})
    form.errors.setdefault(field if field in names else "", []).append(message)
    html = render_template("console/reports/_form.html", form=form, fault_injection=settings.fault_injection)
    return _vary(make_response(html, 422))


@bp.post("/reports")
def create() -> Any:
    """Validate the generate form like the API does; queue the report or show field errors inline."""
    settings = _settings()
    form, fields = parse(request.form, fault_injection=settings.fault_injection,
                         notify_domains=settings.guard.notify_email_domains)
    if fields is not None and fields["notify_email"]:
        retry_after = recipient_refusal(current_actor(), fields["notify_email"])
        if retry_after is not None:
            form.errors.setdefault("notify_email", []).append(RECIPIENTS_MESSAGE)
            fields = None
    if fields is None:
        if is_htmx():
            html = render_template("console/reports/_form.html", form=form, fault_injection=settings.fault_injection)
            return _vary(make_response(html, 422))
        ctx = _list_context()
        html = render_template("console/reports/index.html", form=form, form_open=True,
                               fault_injection=settings.fault_injection, **ctx)
        return _vary(make_response(html, 422))
    report = jobs.submit(requested_by=current_actor(), **fields)
    queries.clear_status_counts_cache()
    flash(f"Report {_label(report)} queued.", "success")
    if not is_htmx():
        return redirect(url_for("console.index"), 303)
    html = render_template("console/reports/_form.html", form=blank_form(form.report_type),
                           fault_injection=settings.fault_injection) + render_template("console/_flashes_oob.html")
    response = make_response(html, 201)
    # The list refreshes itself (with its current filters) when it hears this event.
    response.headers["HX-Trigger"] = "reportCreated"
    return _vary(response)


def _load(report_id: str) -> ReportRequest:
    parsed = queries.parse_report_id(report_id)
    report = queries.get_report(parsed) if parsed is not None else None
    if report is None:
        abort(404, description="No report with this id. Check that the id is complete and not mistyped.")
    return report


def _label(report: ReportRequest) -> str:
    name = f"“{report.title}”" if report.title else report.report_type
    return f"{name} ({str(report.id)[:8]})"


def _detail_context(report: ReportRequest) -> dict[str, Any]:
    from reportsvc.ops import pauses
    from reportsvc.ops.whereabouts import locate_report_message
    from reportsvc.redis_client import get_redis

    return {
        "report": report,
        "queue_pause": pauses.pause_of_pending(get_redis(), jobs.queue_of(report)) if report.status == "PENDING"
        else None,
        "events": queries.events(report.id),
        "place": locate_report_message(get_redis(), report.message_id),
    }


@bp.get("/reports/<report_id>")
def detail(report_id: str) -> Response:
    """One report: fields, progress, where its message is, timeline, the actions its state allows."""
    report = _load(report_id)
    ctx = _detail_context(report)
    template = "console/reports/_detail.html" if is_htmx() else "console/reports/detail.html"
    return _vary(make_response(render_template(template, **ctx)))


def _action_response(report: ReportRequest, ok: bool, status: int) -> Any:
    """After an action: the updated row or detail block plus the flash (HTMX), or a redirect back."""
    view = request.form.get("view", "detail")
    if not is_htmx():
        back = request.form.get("next") or ""
        if not back.startswith("/console/"):  # never redirect off-site
            back = url_for("console.detail", report_id=str(report.id))
        return redirect(back, 303)
    queries.clear_status_counts_cache()
    fresh = queries.get_report(report.id) or report
    if view == "row":
        html = render_template("console/reports/_row_response.html", report=fresh)
    else:
        html = render_template("console/reports/_detail.html", **_detail_context(fresh))
    html += render_template("console/_flashes_oob.html")
    return _vary(make_response(html, 200 if ok else status))


@bp.post("/reports/<report_id>/cancel")
def cancel(report_id: str) -> Any:
    """Cancel a PENDING report or ask a RUNNING one to stop; a refusal (finished) says why. Every attempt is audited."""
    report = _load(report_id)
    label = _label(report)
    outcome = jobs.cancel(report.id, actor=current_actor(), via="console")
    if outcome.cancel_requested:
        flash(f"Cancelling {label}: its worker stops at its next check and the report ends CANCELLED.", "success")
    elif outcome.ok:
        flash(f"Report {label} cancelled.", "success")
    else:
        flash(f"Could not cancel {label}: it is {outcome.status} now; only PENDING and RUNNING reports can be "
              "cancelled.", "error")
    return _action_response(report, outcome.ok, 409)


@bp.post("/reports/<report_id>/retry")
def retry(report_id: str) -> Any:
    """Retry a FAILED report; a refusal says why. Every attempt is audited."""
    report = _load(report_id)
    label = _label(report)
    outcome = jobs.retry(report.id, actor=current_actor(), via="console")
    if outcome.ok:
        flash(f"Report {label} queued again.", "success")
    else:
        flash(f"Could not retry {label}: it is {outcome.status}; only FAILED reports can be retried.", "error")
    return _action_response(report, outcome.ok, 409)


@bp.get("/reports/<report_id>/download")
def download(report_id: str) -> Any:
    """The PDF of a READY report, or a console page saying why not."""
    report = _load(report_id)
    refusal = _refusal(report)
    if refusal is not None:
        return refusal
    try:
        return pdf_response(report)
    except FileMissing:
        # Retention marks the row expired before it deletes the file, so reading the row again tells an
        # expired PDF from a lost one.
        db.session.expire(report)
        return _refusal(_load(report_id)) or error_page(
            410, "The report is READY but its file is missing from storage. Retry it to render a new PDF.",
            "File missing")
    except StorageUnavailable:
        return error_page(503, "The report store cannot be reached right now. Try the download again shortly.",
                          "Storage unavailable")


def _refusal(report: ReportRequest) -> Any:
    """None when the report has a PDF to serve, else the 410 / 409 page saying why not."""
    if report.status == "READY" and report.file_expired_at is not None:
        return error_page(410, f"This report's PDF was deleted on {when_full(report.file_expired_at)} by the "
                          "retention policy (RETENTION_PDF_DAYS). Generate the report again to get a new PDF.",
                          "PDF deleted")
    if report.status != "READY" or not report.file_path:
        return error_page(409, f"This report is {report.status}; only READY reports have a PDF to download.",
                          "Not ready yet")
    return None


@bp.app_template_global()
def is_live(report: ReportRequest) -> bool:
    """Does this report still change on its own (so its row should poll)?"""
    return report.status in ACTIVE_STATUSES
