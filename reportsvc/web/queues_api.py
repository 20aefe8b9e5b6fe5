"""JSON mirrors of the queue console: counts, message lists, dead-letter actions, bulk jobs, workers, audit.

Every read is O(page) in Redis (see ``reportsvc.queues``) plus at most one SQL query per page for
the reports the page's messages carry. Every action writes one ``audit_log`` row (who, what,
how many, outcome); malformed input is refused with a 4xx JSON error before anything changes.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

import dramatiq
from flask import Blueprint, Response, current_app, jsonify, request, url_for

from reportsvc import queues
from reportsvc.names import ALL_QUEUES, REPORT_ACTORS
from reportsvc.ops import bulkjobs, deadletters
from reportsvc.queues import MessageView
from reportsvc.queues.index import resolve
from reportsvc.redis_client import get_redis
from reportsvc.state import audit, queries
from reportsvc.web.api import read_json_body
from reportsvc.web.auth import current_actor
from reportsvc.web.errors import ApiError, without_tracebacks

bp = Blueprint("queues_api", __name__)

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
REDIS_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
MAX_LIMIT = 500
PREVIEW_CHARS = 300


# -- helpers shared with the HTML console ---------------------------------------------------------


def declared_queues() -> list[str]:
    """The service's own queues plus any this process's broker declares (canonical names, .DQ/.XQ folded)."""
    declared = dramatiq.get_broker().get_declared_queues()
    return sorted({queues.canonical_queue(q) for q in (*ALL_QUEUES, *declared)})


def all_queues() -> list[str]:
    """Declared queues plus the scheduler's cached discovery (no SCAN on a request path)."""
    return queues.known_queues(get_redis(), declared_queues())


def check_queue(name: str) -> str:
    """The canonical queue name, or 404 for a name this app neither declares nor has discovered."""
    if not QUEUE_NAME.match(name):
        raise ApiError(400, "invalid_queue", "queue names are letters, digits and . _ : -")
    canonical = queues.canonical_queue(name)
    if canonical not in all_queues():
        raise ApiError(404, "unknown_queue", f"no queue named {canonical!r}; see GET /queues")
    return canonical


def parse_limit(raw: str | None, default: int = 50) -> int:
    """?limit= as an int in 1..MAX_LIMIT, or 400."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_limit", "limit must be a whole number") from None
    if not 1 <= value <= MAX_LIMIT:
        raise ApiError(400, "invalid_limit", f"limit must be between 1 and {MAX_LIMIT}")
    return value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def message_json(view: MessageView, reports: dict[str, dict[str, Any]], *, full: bool = False) -> dict[str, Any]:
    """One message for JSON; ``full`` adds the whole body and options, else a truncated preview."""
    report = reports.get(str(view.report_id)) if view.report_id is not None else None
    out: dict[str, Any] = {
        "redis_id": view.redis_id,
        "message_id": view.message_id,
        "queue": view.queue,
        "state": view.state,
        "actor": view.actor,
        "args": list(view.args),
        "kwargs": view.kwargs,
        "enqueued_at": _iso(view.enqueued_at),
        "retries": view.retries,
        "eta": _iso(view.eta),
        "dead_at": _iso(view.dead_at),
        "held_by": view.held_by,
        "report_id": None if view.report_id is None else str(view.report_id),
        "report_url": None if report is None else f"/console/reports/{view.report_id}",
        "report_status": None if report is None else report["status"],
        # Dramatiq keeps no final traceback: the last error is the report's, from PostgreSQL.
        "last_error": None if report is None else report["error_message"],
    }
    raw = _raw_without_traceback(view)
    if full:
        out["body"] = raw
        out["options"] = without_tracebacks(view.options)
    else:
        out["body_preview"] = raw[:PREVIEW_CHARS]
        out["body_truncated"] = len(raw) > PREVIEW_CHARS
    return out


def _raw_without_traceback(view: queues.MessageView) -> str:
    # Dramatiq's Retries middleware writes the previous attempt's traceback into the body's options.
    if not view.options.get("traceback"):
        return view.raw
    try:
        return json.dumps(without_tracebacks(json.loads(view.raw)), separators=(",", ":"))
    except ValueError:
        return view.raw


def stats_json(s: queues.QueueStats) -> dict[str, Any]:
    """Counters of one queue for JSON."""
    return {
        "name": s.queue,
        "waiting": s.waiting,
        "delayed": s.delayed,
        "held": s.held,
        "dead": s.dead,
        "total": s.total,
        "oldest_waiting_age_s": None if s.next_age_s is None else round(s.next_age_s, 3),
    }


def list_page(name: str, state: str, *, limit: int, cursor: str | None, order: str) -> tuple[queues.Page, dict]:
    """A validated page of messages plus the summaries of the reports they carry."""
    if state not in queues.messages.STATES:
        raise ApiError(404, "unknown_state", f"state must be one of {', '.join(queues.messages.STATES)}")
    if order not in ("newest", "oldest"):
        raise ApiError(400, "invalid_order", "order must be newest or oldest")
    if cursor is not None and len(cursor) > 500:
        raise ApiError(400, "invalid_cursor", "cursor is malformed; use next_cursor from a previous page")
    try:
        page = queues.list_messages(get_redis(), name, state, limit=limit, cursor=cursor,
                                    newest_first=order == "newest", report_actors=REPORT_ACTORS)
    except ValueError:
        raise ApiError(400, "invalid_cursor", "cursor is malformed; use next_cursor from a previous page") from None
    return page, deadletters.report_summaries(page.items)


def dead_after_ms() -> int:
    """How long a silent worker counts as alive: REPORT_LOCK_SECONDS, as for Dramatiq and the sweeper."""
    return int(current_app.extensions["reportsvc.settings"].report_lock_seconds * 1000)


def find_message(name: str, message_id: str) -> tuple[queues.Location, str]:
    """Locate by Redis id, else by Dramatiq message id through the broker's index; 404 if nowhere."""
    if not REDIS_ID.match(message_id):
        raise ApiError(400, "invalid_id", "message ids are letters, digits and . _ : -")
    client = get_redis()
    loc = queues.locate_message(client, name, message_id, dead_after_ms=dead_after_ms(),
                                 report_actors=REPORT_ACTORS)
    if loc.state == "nowhere":
        indexed = resolve(client, message_id)
        if indexed is not None and queues.canonical_queue(indexed[0]) == name:
            loc = queues.locate_message(client, name, indexed[1], dead_after_ms=dead_after_ms(),
                                         report_actors=REPORT_ACTORS)
    if loc.state == "nowhere" or loc.message is None:
        raise ApiError(404, "not_found", "no such message in this queue (it may have finished or been deleted)")
    return loc, loc.message.redis_id


def message_detail(name: str, message_id: str) -> dict[str, Any]:
    """Everything the detail view shows: location, full body, report and its timeline."""
    loc, _ = find_message(name, message_id)
    assert loc.message is not None
    reports = deadletters.report_summaries([loc.message])
    out = message_json(loc.message, reports, full=True)
    out["location"] = {
        "state": loc.state,
        "position": loc.position,
        "more_ahead": loc.more_ahead,
        "eta": _iso(loc.eta),
        "worker_id": loc.worker_id,
        "worker_alive": loc.worker_alive,
        "dead_at": _iso(loc.dead_at),
    }
    rid = deadletters.report_uuid(loc.message)
    report = queries.get_report(rid) if rid is not None else None
    out["report"] = None if report is None else report.to_dict()
    out["timeline"] = [] if report is None else [e.to_dict() for e in queries.events(report.id)]
    return out


class Selection:
    """A validated dead-letter action body: explicit ids, or all letters matching a filter."""

    def __init__(self, ids: list[str] | None, flt: deadletters.LetterFilter | None) -> None:
        self.ids, self.filter = ids, flt


def _invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_input", f"{field}: {message}", details=[{"field": field, "message": message}])


def parse_selection(body: Any) -> Selection:
    """``{"ids": [...]}`` or ``{"all": true, "filter": {...}}``; 422 naming the field otherwise."""
    if not isinstance(body, dict):
        raise _invalid("body", 'send {"ids": [...]} or {"all": true, "filter": {...}}')
    unknown = sorted(set(body) - {"ids", "all", "filter"})
    if unknown:
        raise _invalid(unknown[0], "unknown field; expected ids, or all and filter")
    if "ids" in body:
        if body.get("all") or "filter" in body:
            raise _invalid("ids", "give either ids, or all with an optional filter, not both")
        ids = body["ids"]
        if not isinstance(ids, list) or not ids:
            raise _invalid("ids", "must be a non-empty list of message ids")
        if len(ids) > deadletters.MAX_IDS:
            raise _invalid("ids", f"at most {deadletters.MAX_IDS} ids per request; use all with a filter")
        if not all(isinstance(i, str) and REDIS_ID.match(i) for i in ids):
            raise _invalid("ids", "every id must be a message id string (letters, digits and . _ : -)")
        return Selection(list(dict.fromkeys(ids)), None)
    if body.get("all") is not True:
        raise _invalid("all", 'must be true to act on every matching dead letter (or send "ids")')
    return Selection(None, parse_filter(body.get("filter")))


def parse_filter(raw: Any) -> deadletters.LetterFilter:
    """A validated filter, or 422 naming the field."""
    try:
        return deadletters.LetterFilter.parse(raw)
    except deadletters.FilterError as exc:
        raise _invalid(exc.field, str(exc)) from None


def dead_action(name: str, action: str, selection: Selection, actor: str) -> tuple[dict[str, Any], int]:
    """Run (ids) or start (all) a requeue/delete and audit it; (JSON body, status)."""
    client = get_redis()
    target = f"queue:{name}"
    if selection.ids is not None:
        fn = deadletters.requeue if action == "requeue" else deadletters.delete
        try:
            result = fn(client, name, selection.ids, actor=actor)
        except Exception as exc:
            audit.record(actor, f"dead.{action}", target, "failed",
                         {"ids": len(selection.ids), "error": str(exc)[:300]})
            raise
        outcome = "ok" if result.done == len(selection.ids) else ("noop" if result.done == 0 else "partial")
        audit.record(actor, f"dead.{action}", target, outcome,
                     {"requested": len(selection.ids), **result.as_dict(), "ids": selection.ids[:50]})
        return {"action": action, "queue": name, "requested": len(selection.ids), **result.as_dict()}, 200
    assert selection.filter is not None
    job = bulkjobs.submit(action=action, queue=name, flt=selection.filter, actor=actor)
    audit.record(actor, f"dead.{action}_all", target, "accepted" if job.state != "failed" else "failed",
                 {"job_id": str(job.id), "filter": job.filter, "total_in_range": job.total})
    body = job.to_dict()
    body["status_url"] = url_for("queues_api.bulk_job", job_id=str(job.id))
    return body, 202


# -- routes --------------------------------------------------------------------------------------


@bp.get("/queues")
def list_queues() -> Response:
    """Counts of every known queue in one Redis round trip."""
    stats = queues.all_queue_stats(get_redis(), all_queues())
    return jsonify({"queues": [stats_json(s) for s in stats]})


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
    body, status = dead_action(canonical, action, parse_selection(read_json_body()), current_actor())
    response = jsonify(body)
    response.status_code = status
    return response


@bp.post("/queues/<name>/dead/requeue")
def requeue_dead(name: str) -> Response:
    """Requeue dead letters: ``{"ids": [...]}`` (200) or ``{"all": true, "filter": {...}}`` (202 + job)."""
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
        raise _invalid("body", 'send {"filter": {...}} (or nothing, for all dead letters)')
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
    actor = current_actor()
    loc, redis_id = find_message(canonical, message_id)
    target = f"message:{canonical}/{redis_id}"
    if loc.state != "delayed":
        audit.record(actor, "message.promote", target, "refused", {"state": loc.state})
        raise ApiError(409, "conflict", f"message is {loc.state}; only delayed messages can be promoted")
    ok = queues.promote_delayed(get_redis(), canonical, redis_id, dead_after_ms=dead_after_ms())
    if not ok:
        after = queues.locate_message(get_redis(), canonical, redis_id, dead_after_ms=dead_after_ms())
        why = ("a live worker holds it in memory until its eta" if after.state == "delayed"
               else f"it is {after.state} now")
        audit.record(actor, "message.promote", target, "refused", {"reason": why})
        raise ApiError(409, "conflict", f"not promoted: {why}")
    audit.record(actor, "message.promote", target, "ok", {"report_id": _report_text(loc)})
    return jsonify({"redis_id": redis_id, "queue": canonical, "state": "waiting", "promoted": True})


@bp.post("/queues/<name>/messages/<message_id>/release")
def release(name: str, message_id: str) -> Response:
    """Put one message held by a dead worker back on its queue (409 while the worker is alive)."""
    canonical = check_queue(name)
    actor = current_actor()
    loc, redis_id = find_message(canonical, message_id)
    target = f"message:{canonical}/{redis_id}"
    if loc.state not in ("held", "delayed") or loc.worker_id is None:
        audit.record(actor, "message.release", target, "refused", {"state": loc.state})
        raise ApiError(409, "conflict", f"message is {loc.state} and held by no worker; nothing to release")
    if loc.worker_alive:
        audit.record(actor, "message.release", target, "refused", {"worker": loc.worker_id, "reason": "alive"})
        raise ApiError(409, "worker_alive", f"worker {loc.worker_id} is alive; releasing would run it twice")
    list_name = canonical + (".DQ" if loc.state == "delayed" else "")
    ok = queues.release_held(get_redis(), list_name, redis_id, loc.worker_id, dead_after_ms=dead_after_ms())
    audit.record(actor, "message.release", target, "ok" if ok else "noop", {"worker": loc.worker_id})
    if not ok:
        raise ApiError(409, "conflict", "not released: the message moved meanwhile")
    return jsonify({"redis_id": redis_id, "queue": canonical, "released": True, "from_worker": loc.worker_id})


def _report_text(loc: queues.Location) -> str | None:
    return None if loc.message is None or loc.message.report_id is None else str(loc.message.report_id)


def workers_json() -> list[dict[str, Any]]:
    """Workers from the heartbeat ZSET with held counts per known queue."""
    own = getattr(dramatiq.get_broker(), "broker_id", None)
    out = []
    for w in queues.list_workers(get_redis(), queues.DEFAULT_NAMESPACE, all_queues(), dead_after_ms=dead_after_ms()):
        role = "idle or producer"
        if w.consumer:
            role = "consumer"
        elif w.worker_id == own:
            role = "this web process (producer)"
        out.append({
            "worker_id": w.worker_id,
            "last_beat": _iso(w.last_beat),
            "age_s": round(w.age_s, 3),
            "alive": w.alive,
            "role": role,
            "held": {k: v for k, v in w.held.items() if v},
            "held_total": w.held_total,
        })
    return out


@bp.get("/workers")
def workers() -> Response:
    """Broker processes from Dramatiq's heartbeats: alive/dead, what each holds."""
    # The timeout `alive` was judged by (REPORT_LOCK_SECONDS), not Dramatiq's stock 60 s.
    return jsonify({"workers": workers_json(), "heartbeat_timeout_s": dead_after_ms() / 1000})


WORKER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


def release_worker(worker_id: str, actor: str, *, force: bool = False) -> int:
    """Release everything a dead worker holds (all known queues); audits; ApiError 409 if alive."""
    if not WORKER_ID.match(worker_id):
        raise ApiError(400, "invalid_id", "worker ids are letters, digits and . _ : -")
    target = f"worker:{worker_id}"
    try:
        moved = queues.release_dead_worker(get_redis(), worker_id, all_queues(), force=force,
                                           dead_after_ms=dead_after_ms())
    except queues.WorkerAliveError:
        audit.record(actor, "worker.release", target, "refused", {"reason": "alive"})
        raise ApiError(409, "worker_alive", f"worker {worker_id} has a fresh heartbeat; its messages are running "
                       "(pass force only if it is truly gone)") from None
    audit.record(actor, "worker.release", target, "ok" if moved else "noop", {"released": moved, "force": force})
    return moved


@bp.post("/workers/<worker_id>/release")
def release_worker_route(worker_id: str) -> Response:
    """Put every message a dead worker holds back on its queue; ``{"force": true}`` overrides the liveness check."""
    body = read_json_body()
    if body is not None and (not isinstance(body, dict) or set(body) - {"force"}
                             or not isinstance(body.get("force", False), bool)):
        raise _invalid("body", 'send nothing, or {"force": true}')
    moved = release_worker(worker_id, current_actor(), force=bool((body or {}).get("force")))
    return jsonify({"worker_id": worker_id, "released": moved})


@bp.get("/audit")
def audit_log() -> Response:
    """Newest-first audit entries: ?limit=&cursor=&action=&actor=."""
    try:
        page = audit.list_entries(limit=parse_limit(request.args.get("limit"), 50),
                                  cursor=request.args.get("cursor") or None,
                                  action=request.args.get("action") or None,
                                  actor=request.args.get("actor") or None)
    except audit.AuditQueryError as exc:
        raise ApiError(400, "invalid_filter", str(exc)) from None
    return jsonify({"items": [audit.as_dict(r) for r in page.items], "next_cursor": page.next_cursor})
