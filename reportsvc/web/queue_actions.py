"""Acting on the queues for the web: dead letters requeued or deleted (chosen ids, or a bulk job over a
filter), a delayed message promoted, a held one released, a dead worker's messages released. The JSON API
(queues_api) and the console (console_queues) both act through these.

Every action writes one ``audit_log`` row (who, what, how many, outcome), refusals included; malformed
input is refused with a 4xx ApiError before anything changes.
"""

from __future__ import annotations

import re
from typing import Any

from flask import url_for

from reportsvc import queues
from reportsvc.ops import bulkjobs, deadletters
from reportsvc.queues.index import MESSAGE_INDEX_PREFIX
from reportsvc.redis_client import get_redis
from reportsvc.state import audit
from reportsvc.web.errors import ApiError, invalid_input
from reportsvc.web.queue_reads import REDIS_ID, all_queues, dead_after_ms, find_message

WORKER_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


class Selection:
    """A validated dead-letter action body: explicit ids, or all letters matching a filter; a requeue's lane."""

    def __init__(self, ids: list[str] | None, flt: deadletters.LetterFilter | None, lane: str | None = None) -> None:
        self.ids, self.filter = ids, flt
        default = deadletters.IDS_DEFAULT_LANE if ids is not None else deadletters.BULK_DEFAULT_LANE
        self.lane = lane or default


def parse_lane(raw: Any) -> str | None:
    """A requeue's ``lane`` (None when not given), or 422 naming the field."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or raw not in deadletters.LANE_CHOICES:
        raise invalid_input("lane", f"must be one of {', '.join(deadletters.LANE_CHOICES)}")
    return raw


def parse_selection(body: Any, action: str = "requeue") -> Selection:
    """``{"ids": [...]}`` or ``{"all": true, "filter": {...}}``, a requeue's optional ``lane``; 422 naming the field."""
    if not isinstance(body, dict):
        raise invalid_input("body", 'send {"ids": [...]} or {"all": true, "filter": {...}}')
    allowed = {"ids", "all", "filter"} | ({"lane"} if action == "requeue" else set())
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise invalid_input(unknown[0], f"unknown field; expected {', '.join(sorted(allowed))}")
    lane = parse_lane(body.get("lane"))
    if "ids" in body:
        if body.get("all") or "filter" in body:
            raise invalid_input("ids", "give either ids, or all with an optional filter, not both")
        ids = body["ids"]
        if not isinstance(ids, list) or not ids:
            raise invalid_input("ids", "must be a non-empty list of message ids")
        if len(ids) > deadletters.MAX_IDS:
            raise invalid_input("ids", f"at most {deadletters.MAX_IDS} ids per request; use all with a filter")
        if not all(isinstance(i, str) and REDIS_ID.match(i) for i in ids):
            raise invalid_input("ids", "every id must be a message id string (letters, digits and . _ : -)")
        return Selection(list(dict.fromkeys(ids)), None, lane)
    if body.get("all") is not True:
        raise invalid_input("all", 'must be true to act on every matching dead letter (or send "ids")')
    return Selection(None, parse_filter(body.get("filter")), lane)


def parse_filter(raw: Any) -> deadletters.LetterFilter:
    """A validated filter, or 422 naming the field."""
    try:
        return deadletters.LetterFilter.parse(raw)
    except deadletters.FilterError as exc:
        raise invalid_input(exc.field, str(exc)) from None


def _as_redis_ids(client: Any, name: str, ids: list[str]) -> list[str]:
    """The list shows both ids of a letter: a Dramatiq message_id is turned into its Redis id through the
    broker's message index (one pipelined GET per id, reportsvc's own keys); a Redis id, or an id known to
    neither, stays as sent (an unknown one is then reported under ``missing``)."""
    pipe = client.pipeline(transaction=False)
    for i in ids:
        pipe.get(MESSAGE_INDEX_PREFIX + i)
    out = []
    for i, raw in zip(ids, pipe.execute(), strict=True):
        queue, _, redis_id = (raw.decode() if isinstance(raw, bytes) else str(raw or "")).partition("|")
        out.append(redis_id if redis_id and queues.canonical_queue(queue) == name else i)
    return list(dict.fromkeys(out))


def dead_action(name: str, action: str, selection: Selection, actor: str) -> tuple[dict[str, Any], int]:
    """Run (ids) or start (all) a requeue/delete and audit it; (JSON body, status)."""
    client = get_redis()
    target = f"queue:{name}"
    if selection.ids is not None:
        ids = _as_redis_ids(client, name, selection.ids)
        lane = {"lane": selection.lane} if action == "requeue" else {}
        try:
            if action == "requeue":
                result = deadletters.requeue(client, name, ids, actor=actor, lane=selection.lane)
            else:
                result = deadletters.delete(client, name, ids, actor=actor)
        except Exception as exc:
            audit.record(actor, f"dead.{action}", target, "failed",
                         {"ids": len(ids), **lane, "error": str(exc)[:300]})
            raise
        outcome = "ok" if result.done == len(ids) else ("noop" if result.done == 0 else "partial")
        audit.record(actor, f"dead.{action}", target, outcome,
                     {"requested": len(ids), **lane, **result.as_dict(), "ids": ids[:50]})
        return {"action": action, "queue": name, "requested": len(ids), **lane, **result.as_dict()}, 200
    assert selection.filter is not None
    job = bulkjobs.submit(action=action, queue=name, flt=selection.filter, actor=actor,
                          lane=selection.lane if action == "requeue" else None)
    audit.record(actor, f"dead.{action}_all", target, "accepted" if job.state != "failed" else "failed",
                 {"job_id": str(job.id), "filter": job.filter, "lane": job.lane, "total_in_range": job.total})
    body = job.to_dict()
    body["status_url"] = url_for("queues_api.bulk_job", job_id=str(job.id))
    return body, 202


def promote_message(canonical: str, message_id: str, actor: str) -> str:
    """Run a delayed message now; its Redis id (ApiError 409 while a live worker holds it in memory)."""
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
    return redis_id


def release_message(canonical: str, message_id: str, actor: str) -> tuple[str, str]:
    """Put one message held by a dead worker back on its queue; (Redis id, worker id), ApiError 409 if alive."""
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
    return redis_id, loc.worker_id


def _report_text(loc: queues.Location) -> str | None:
    return None if loc.message is None or loc.message.report_id is None else str(loc.message.report_id)


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
