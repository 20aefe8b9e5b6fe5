"""Console pages for the broker: queues overview (live counts), messages by state, message detail,
dead letters with requeue/delete (selected or all matching, with a dry-run count and a confirm),
bulk-job progress, workers (release a dead one) and the audit log.

Reads and actions go through the same helpers as the JSON API (``queue_reads``, ``queue_actions``), so
the console and ``GET /queues...`` always agree. Forms are plain POSTs that redirect back with a flash
(they work without JavaScript); HTMX only polls counts and job progress and fetches the dry-run count.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

from reportsvc import queues
from reportsvc.names import LANES
from reportsvc.ops import bulkjobs, deadletters, pauses
from reportsvc.redis_client import get_redis
from reportsvc.state import audit
from reportsvc.web import queue_actions as qa
from reportsvc.web import queue_reads as qr
from reportsvc.web.access import current_actor
from reportsvc.web.cursors import invalid_cursor, opened, sealed
from reportsvc.web.errors import ApiError, error_page
from reportsvc.web.requests import is_htmx

bp = Blueprint("console_queues", __name__, url_prefix="/console")
PAGE = 50
STATE_LABELS = {"waiting": "Waiting", "delayed": "Delayed", "held": "Held by workers", "dead": "Dead letters"}


@bp.errorhandler(ApiError)
def _api_error(err: ApiError) -> Any:
    return error_page(err.status, err.message)


@bp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Any:
    return error_page(err.code or 500, err.description or err.name, err.name)


def _vary(body: str) -> Response:
    response = Response(body)
    response.headers.add("Vary", "HX-Request")
    return response


@bp.get("/queues")
def overview() -> Response:
    """Every known queue with its counts; the table refreshes itself every 2 s."""
    client = get_redis()
    stats = queues.all_queue_stats(client, qr.all_queues())
    template = "console/queues/_counts.html" if is_htmx() else "console/queues/index.html"
    return _vary(render_template(template, stats=stats, jobs=bulkjobs.recent(10), states=STATE_LABELS,
                                 paused=pauses.paused(client)))


@bp.post("/queues/<name>/pause")
def pause(name: str) -> Response:
    """Pause a queue from the Queues page (audited; viewers are refused by the access policy)."""
    return _pause_or_resume(name, True)


@bp.post("/queues/<name>/resume")
def resume(name: str) -> Response:
    """Resume a paused queue from the Queues page (audited)."""
    return _pause_or_resume(name, False)


def _pause_or_resume(name: str, pausing: bool) -> Response:
    canonical = qr.check_queue(name)
    act = pauses.pause if pausing else pauses.resume
    changed = act(get_redis(), canonical, actor=current_actor() or "unknown", via="console")
    verb = "paused" if pausing else "resumed"
    flash(f"Queue {canonical} {verb}." if changed else f"Queue {canonical} was already {verb}.",
          "success" if changed else "info")
    return redirect(url_for("console_queues.overview"), 303)  # type: ignore[return-value]


@bp.get("/queues/<name>/<state>")
def messages(name: str, state: str) -> Response:
    """A page of messages in one state; the dead-letter page adds selection, filters and bulk actions."""
    canonical = qr.check_queue(name)
    order = request.args.get("order", "newest")
    page, reports = qr.list_page(canonical, state, limit=PAGE, cursor=request.args.get("cursor") or None,
                                 order=order)
    stats = queues.queue_stats(get_redis(), canonical)
    items = [qr.message_json(v, reports) for v in page.items]
    return _vary(render_template(
        "console/queues/messages.html", queue=canonical, state=state, order=order, page=page, items=items,
        stats=stats, states=STATE_LABELS, filter=request.args.to_dict(), lane_queue=canonical in LANES.values(),
        next_url=url_for(".messages", name=canonical, state=state, cursor=page.next_cursor, order=order)
        if page.next_cursor else None,
        first_url=url_for(".messages", name=canonical, state=state, order=order),
    ))


@bp.get("/queues/<name>/messages/<message_id>")
def message(name: str, message_id: str) -> Response:
    """One message whole: where it is, its full body, its report and the report's timeline."""
    canonical = qr.check_queue(name)
    detail = qr.message_detail(canonical, message_id)
    return _vary(render_template("console/queues/message.html", queue=canonical, m=detail))


def _selected_ids() -> list[str]:
    ids = request.form.getlist("ids")
    if not ids:
        flash("Tick at least one dead letter first.", "warning")
    return ids


def _back(name: str) -> Response:
    target = request.form.get("next") or url_for(".messages", name=name, state="dead")
    if not target.startswith("/console/"):
        target = url_for(".messages", name=name, state="dead")
    return redirect(target, 303)  # type: ignore[return-value]


@bp.post("/queues/<name>/dead/<action>")
def dead_selected(name: str, action: str) -> Response:
    """Requeue or delete the ticked dead letters (one request, one audit row)."""
    canonical = qr.check_queue(name)
    if action not in ("requeue", "delete"):
        abort(404)
    ids = _selected_ids()
    if not ids:
        return _back(canonical)
    raw: dict[str, Any] = {"ids": ids}
    if action == "requeue" and request.form.get("lane"):
        raw["lane"] = request.form["lane"]
    try:
        body, _ = qa.dead_action(canonical, action, qa.parse_selection(raw, action), current_actor())
    except ApiError as exc:
        flash(exc.message, "error")
        return _back(canonical)
    verb = "Requeued" if action == "requeue" else "Deleted"
    flash(f"{verb} {body['done']} of {len(ids)} dead letters.", "success" if body["done"] else "warning")
    for skip in body["skipped"][:5]:
        flash(f"Skipped {skip['id'][:8]}: {skip['reason']}.", "warning")
    if body["missing"]:
        flash(f"{len(body['missing'])} were no longer dead letters (already handled).", "info")
    return _back(canonical)


def _form_filter() -> dict[str, str]:
    return {k: v.strip() for k in deadletters.FILTER_KEYS if (v := request.values.get(k, "")) and v.strip()}


@bp.post("/queues/<name>/dead-count")
def dead_count(name: str) -> Response:
    """Dry run for "all matching": the count, then a confirm button (HTMX fragment or full page)."""
    canonical = qr.check_queue(name)
    raw = _form_filter()
    try:
        flt = qa.parse_filter(raw)
    except ApiError as exc:
        return _vary(render_template("console/queues/_count.html", queue=canonical, error=exc.message, raw=raw,
                                     lane_queue=False))
    result = deadletters.count(get_redis(), canonical, flt)
    template = "console/queues/_count.html" if is_htmx() else "console/queues/count_page.html"
    return _vary(render_template(template, queue=canonical, result=result, raw=raw, error=None,
                                 lane_queue=canonical in LANES.values()))


@bp.post("/queues/<name>/dead-all/<action>")
def dead_all(name: str, action: str) -> Response:
    """Start a bulk job over every dead letter matching the filter; go to its progress page."""
    canonical = qr.check_queue(name)
    if action not in ("requeue", "delete"):
        abort(404)
    try:
        flt = qa.parse_filter(_form_filter())
        lane = qa.parse_lane(request.form.get("lane")) if action == "requeue" else None
    except ApiError as exc:
        flash(exc.message, "error")
        return _back(canonical)
    body, _ = qa.dead_action(canonical, action, qa.Selection(None, flt, lane), current_actor())
    where = f", to the {body['lane']} lane" if body.get("lane") in ("batch", "interactive") else ""
    flash(f"Bulk {action} started over {body['total']} dead letters in range{where}.", "success")
    return redirect(url_for(".bulk_job", job_id=body["id"]), 303)  # type: ignore[return-value]


@bp.get("/queues/bulk-jobs/<job_id>")
def bulk_job(job_id: str) -> Response:
    """A bulk job's progress; the card polls itself until the job ends."""
    try:
        job = bulkjobs.get(uuid.UUID(job_id))
    except ValueError:
        abort(400, description="Job ids are UUIDs.")
    if job is None:
        abort(404, description="No bulk job with that id.")
    # Only the card's own poll (it targets itself) gets the fragment: the "all matching" buttons reach this page
    # through HTMX too, following the 303 with hx-select="#main", and a fragment there left an empty page.
    own_poll = is_htmx() and request.headers.get("HX-Target") == "bulk-job"
    template = "console/queues/_job.html" if own_poll else "console/queues/job.html"
    response = _vary(render_template(template, job=job.to_dict()))
    response.headers.add("Vary", "HX-Target")
    return response


@bp.post("/queues/<name>/messages/<message_id>/<action>")
def message_action(name: str, message_id: str, action: str) -> Response:
    """Promote a delayed message or release a held one from a dead worker."""
    canonical = qr.check_queue(name)
    act = {"promote": qa.promote_message, "release": qa.release_message}.get(action)
    if act is None:
        abort(404)
    try:
        act(canonical, message_id, current_actor())
    except ApiError as exc:
        flash(exc.message, "error")
    else:
        flash("Promoted: it runs next." if action == "promote" else "Released back to the queue.", "success")
    return redirect(url_for(".message", name=canonical, message_id=message_id), 303)  # type: ignore[return-value]


@bp.get("/workers")
def workers() -> Response:
    """Broker processes from Dramatiq's heartbeats."""
    template = "console/queues/_workers.html" if is_htmx() else "console/queues/workers.html"
    return _vary(render_template(template, workers=qr.workers_json()))


@bp.post("/workers/<worker_id>/release")
def release_worker(worker_id: str) -> Response:
    """Release everything a dead worker holds."""
    try:
        moved = qa.release_worker(worker_id, current_actor())
    except ApiError as exc:
        flash(exc.message, "error")
    else:
        flash(f"Released {moved} messages from {worker_id[:12]} back to their queues.", "success")
    return redirect(url_for(".workers"), 303)  # type: ignore[return-value]


@bp.get("/audit")
def audit_page() -> Response:
    """Operator actions, newest first."""
    action = request.args.get("action") or None
    try:
        page = audit.list_entries(limit=50, cursor=opened("audit", request.args.get("cursor")), action=action)
    except audit.AuditQueryError as exc:
        if exc.field == "cursor":
            raise invalid_cursor() from None
        abort(400, description=str(exc))
    next_url = None
    if page.next_cursor:
        params = {"cursor": sealed("audit", page.next_cursor) or "", **({"action": action} if action else {})}
        next_url = url_for(".audit_page") + "?" + urlencode(params)
    return _vary(render_template("console/queues/audit.html", entries=[audit.as_dict(r) for r in page.items],
                                 next_url=next_url, action=action))
