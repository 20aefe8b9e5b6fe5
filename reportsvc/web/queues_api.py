"""JSON mirrors of the queue console: counts, message lists, dead-letter actions, bulk jobs, workers, audit.

Reads go through queue_reads and actions (with their audit rows) through queue_actions, which the console's
queue pages share; these routes parse the request and shape the response.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify, request

from reportsvc import queues
from reportsvc.ops import bulkjobs, deadletters, pauses
from reportsvc.queues.pauses import Pause
from reportsvc.redis_client import get_redis
from reportsvc.state import audit
from reportsvc.web.access import current_actor
from reportsvc.web.cursors import invalid_cursor, opened, sealed
from reportsvc.web.errors import ApiError, invalid_input, without_tracebacks
from reportsvc.web.queue_actions import (
    dead_action,
    parse_filter,
    parse_selection,
    promote_message,
    release_message,
    release_worker,
)
from reportsvc.web.queue_reads import (
    all_queues,
    check_queue,
    dead_after_ms,
    list_page,
    message_detail,
    message_json,
    parse_limit,
    stats_json,
    workers_json,
)
from reportsvc.web.requests import read_json_body

bp = Blueprint("queues_api", __name__)


@bp.get("/queues")
def list_queues() -> Response:
    """Counts of every known queue in one Redis round trip."""
    client = get_redis()
    stats = queues.all_queue_stats(client, all_queues())
    paused = pauses.paused(client)
    return jsonify({"queues": [stats_json(s) | pause_json(paused.get(s.queue)) for s in stats]})


def pause_json(pause: Pause | None) -> dict[str, object]:
    """A queue's pause state for JSON: paused, since, by."""
    return {"paused": pause is not None, "paused_since": pause.since if pause else None,
            "paused_by": pause.by if pause else None}


def _pause_response(name: str, pausing: bool) -> Response:
    canonical = check_queue(name)
    client = get_redis()
    act = pauses.pause if pausing else pauses.resume
    changed = act(client, canonical, actor=current_actor() or "unknown", via="api")
    return jsonify({"queue": canonical, "changed": changed} | pause_json(pauses.paused(client).get(canonical)))


@bp.post("/queues/<name>/pause")
def pause_queue(name: str) -> Response:
    """Pause a queue: workers start none of its messages until it is resumed (repeat: changed false)."""
    return _pause_response(name, True)


@bp.post("/queues/<name>/resume")
def resume_queue(name: str) -> Response:
    """Resume a paused queue: its waiting work starts within a few seconds (repeat: changed false)."""
    return _pause_response(name, False)


@bp.get("/queues/<name>/<state>")
def queue_messages(name: str, state: str) -> Response:
    """One page of messages in one state: ?limit=1..500&cursor=...&order=newest|oldest."""
    canonical = check_queue(name)
    page, reports = list_page(canonical, state, limit=parse_limit(request.args.get("limit")),
                              cursor=request.args.get("cursor") or None,
                              order=request.args.get("order", "newest"))
    return jsonify({
        "queue": canonical,
        "state": state,
        "total": page.total,
        "items": [message_json(v, reports) for v in page.items],
        "next_cursor": page.next_cursor,
    })


@bp.get("/queues/<name>/messages/<message_id>")
def queue_message(name: str, message_id: str) -> Response:
    """One message by Redis id or Dramatiq message id: where it is, its body, its report and timeline."""
    return jsonify(without_tracebacks(message_detail(check_queue(name), message_id)))


def _dead_response(name: str, action: str) -> Response:
    canonical = check_queue(name)
    body, status = dead_action(canonical, action, parse_selection(read_json_body(), action), current_actor())
    response = jsonify(body)
    response.status_code = status
    return response


@bp.post("/queues/<name>/dead/requeue")
def requeue_dead(name: str) -> Response:
    """Requeue dead letters: ``{"ids": [...]}`` (200) or ``{"all": true, "filter": {...}}`` (202 + job); ``lane``."""
    return _dead_response(name, "requeue")


@bp.post("/queues/<name>/dead/delete")
def delete_dead(name: str) -> Response:
    """Delete dead letters: ``{"ids": [...]}`` (200) or ``{"all": true, "filter": {...}}`` (202 + job)."""
    return _dead_response(name, "delete")


@bp.post("/queues/<name>/dead/count")
def count_dead(name: str) -> Response:
    """Dry run: how many dead letters ``{"filter": {...}}`` matches now (changes nothing)."""
    canonical = check_queue(name)
    body = read_json_body()
    if body is not None and (not isinstance(body, dict) or set(body) - {"filter", "all"}):
        raise invalid_input("body", 'send {"filter": {...}} (or nothing, for all dead letters)')
    flt = parse_filter((body or {}).get("filter"))
    result = deadletters.count(get_redis(), canonical, flt)
    return jsonify({"queue": canonical, "filter": flt.as_json(), **result})


@bp.get("/queues/bulk-jobs/<job_id>")
def bulk_job(job_id: str) -> Response:
    """A bulk job's state and progress."""
    return jsonify(_job(job_id).to_dict())


@bp.post("/queues/bulk-jobs/<job_id>/cancel")
def cancel_bulk_job(job_id: str) -> Response:
    """Stop a bulk job after its current batch (what it moved stays moved)."""
    job = _job(job_id)
    actor = current_actor()
    ok = bulkjobs.cancel(job.id, actor=actor)
    audit.record(actor, "bulk_job.cancel", f"bulk_job:{job.id}", "ok" if ok else "noop", {"state": job.state})
    if not ok:
        raise ApiError(409, "conflict", f"job is {job.state}; only queued or running jobs can be cancelled")
    return jsonify(_job(job_id).to_dict())


def _job(job_id: str) -> bulkjobs.BulkJob:
    try:
        ident = uuid.UUID(job_id)
    except ValueError:
        raise ApiError(400, "invalid_id", "job ids are UUIDs") from None
    job = bulkjobs.get(ident)
    if job is None:
        raise ApiError(404, "not_found", "no bulk job with that id")
    return job


@bp.post("/queues/<name>/messages/<message_id>/promote")
def promote(name: str, message_id: str) -> Response:
    """Run a delayed message now (refused with 409 while a live worker holds it in memory)."""
    canonical = check_queue(name)
    redis_id = promote_message(canonical, message_id, current_actor())
    return jsonify({"redis_id": redis_id, "queue": canonical, "state": "waiting", "promoted": True})


@bp.post("/queues/<name>/messages/<message_id>/release")
def release(name: str, message_id: str) -> Response:
    """Put one message held by a dead worker back on its queue (409 while the worker is alive)."""
    canonical = check_queue(name)
    redis_id, worker_id = release_message(canonical, message_id, current_actor())
    return jsonify({"redis_id": redis_id, "queue": canonical, "released": True, "from_worker": worker_id})


@bp.get("/workers")
def workers() -> Response:
    """Broker processes from Dramatiq's heartbeats: alive/dead, what each holds."""
    # The timeout `alive` was judged by (REPORT_LOCK_SECONDS), not Dramatiq's stock 60 s.
    return jsonify({"workers": workers_json(), "heartbeat_timeout_s": dead_after_ms() / 1000})


@bp.post("/workers/<worker_id>/release")
def release_worker_route(worker_id: str) -> Response:
    """Put every message a dead worker holds back on its queue; ``{"force": true}`` overrides the liveness check."""
    body = read_json_body()
    if body is not None and (not isinstance(body, dict) or set(body) - {"force"}
                             or not isinstance(body.get("force", False), bool)):
        raise invalid_input("body", 'send nothing, or {"force": true}')
    moved = release_worker(worker_id, current_actor(), force=bool((body or {}).get("force")))
    return jsonify({"worker_id": worker_id, "released": moved})


@bp.get("/audit")
def audit_log() -> Response:
    """Newest-first audit entries: ?limit=&cursor=&action=&actor=."""
    try:
        page = audit.list_entries(limit=parse_limit(request.args.get("limit"), 50),
                                  cursor=opened("audit", request.args.get("cursor")),
                                  action=request.args.get("action") or None,
                                  actor=request.args.get("actor") or None)
    except audit.AuditQueryError as exc:
        if exc.field == "cursor":
            raise invalid_cursor() from None
        raise ApiError(400, "invalid_filter", str(exc)) from None
    return jsonify({"items": [audit.as_dict(r) for r in page.items], "next_cursor": sealed("audit", page.next_cursor)})
