"""Reading the queues for the web: validated names, ids and limits, pages of messages and one message
located, shaped as JSON. The JSON API (queues_api) and the console's queue pages (console_queues) both
read through these, so `GET /queues...` and the console always agree.

Every read is O(page) in Redis (see ``reportsvc.queues``) plus at most one SQL query per page for the
reports the page's messages carry. Bad input is an ApiError (4xx) before anything is read.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime
from typing import Any

import dramatiq
from flask import current_app

from reportsvc import queues
from reportsvc.cursors import CursorError
from reportsvc.names import ALL_QUEUES, REPORT_ACTORS
from reportsvc.ops import deadletters
from reportsvc.queues import MessageView
from reportsvc.queues.index import resolve
from reportsvc.redis_client import get_redis
from reportsvc.state import queries
from reportsvc.web.cursors import invalid_cursor, opened, sealed
from reportsvc.web.errors import ApiError, without_tracebacks

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
REDIS_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
MAX_LIMIT = 500
PREVIEW_CHARS = 300


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
    listing = f"queue:{name}:{state}"
    try:
        page = queues.list_messages(get_redis(), name, state, limit=limit, cursor=opened(listing, cursor),
                                    newest_first=order == "newest", report_actors=REPORT_ACTORS)
    except CursorError:
        raise invalid_cursor() from None
    page = dataclasses.replace(page, next_cursor=sealed(listing, page.next_cursor))
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
