"""GET /console/events: the console's server-sent event stream (one per browser tab).

Events: `resync` first (the page refreshes what it shows: a reconnect with Last-Event-ID gets the current state,
so nothing missed while it was away matters), then `report` (a status or progress change, fanned out through
Redis pub/sub by reportsvc.state.lifecycle after each commit), `alert` (a rule fired or resolved) and `queue`
(queue counters or the number of live workers changed, sampled every QUEUE_SAMPLE_SECONDS). A comment line
keeps an idle stream open every SSE_KEEPALIVE_SECONDS (15 s); the stream ends after SSE_MAX_SECONDS and the
browser reconnects. The data is a small JSON object: the pages re-fetch the fragments they already poll.

The stream holds no database connection and no app context while it waits (only a Redis pub/sub connection),
so open streams cost a thread each and a socket; see the README's "Live updates" for how to serve them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import redis
from flask import Blueprint, Response, current_app

from reportsvc.names import EVENTS_CHANNEL, QUEUES
from reportsvc.queues import QueueKeys, all_queue_stats, is_worker_alive
from reportsvc.queues.workers import worker_beats
from reportsvc.redis_client import get_redis

bp = Blueprint("console_events", __name__, url_prefix="/console")

#: How often a stream samples the queue counters and live workers (O(number of queues) in Redis).
QUEUE_SAMPLE_SECONDS = 2.0
#: A worker counts as alive while its heartbeat is fresher than this (as in the footer and the alert rules).
WORKER_FRESH_MS = 5_000


def _frame(event_id: int, event: str, data: dict[str, Any]) -> str:
    return f"id: {event_id}\nevent: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _queue_snapshot(client: Any) -> dict[str, Any]:
    """Counters of every queue and the number of live workers (what the `queue` event carries)."""
    stats = all_queue_stats(client, list(QUEUES))
    now_ms = time.time() * 1000
    alive = sum(1 for _, beat in worker_beats(client, QueueKeys.of(QUEUES[0]))
                if is_worker_alive(beat, now_ms, WORKER_FRESH_MS))
    return {"queues": {s.queue: [s.waiting, s.delayed, s.held, s.dead] for s in stats}, "workers": alive}


def stream(max_seconds: float, keepalive_seconds: float) -> Iterator[str]:
    """The event stream's lines until max_seconds passed (or the client went away)."""
    client = get_redis()
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(EVENTS_CHANNEL)
    # Event ids are milliseconds: increasing across reconnects, so Last-Event-ID is always an older one.
    next_id = int(time.time() * 1000)
    try:
        yield "retry: 2000\n\n"
        yield _frame(next_id, "resync", {"at": time.time()})
        started = last_sent = time.monotonic()
        last_sample = 0.0
        snapshot: dict[str, Any] | None = None
        while time.monotonic() - started < max_seconds:
            message = pubsub.get_message(timeout=1.0)
            frames: list[str] = []
            if message is not None and message.get("type") == "message":
                data = json.loads(message["data"])
                next_id = max(next_id + 1, int(time.time() * 1000))
                frames.append(_frame(next_id, str(data.pop("type", "report")), data))
            if time.monotonic() - last_sample >= QUEUE_SAMPLE_SECONDS:
                last_sample = time.monotonic()
                current = _queue_snapshot(client)
                if current != snapshot:
                    if snapshot is not None:
                        next_id = max(next_id + 1, int(time.time() * 1000))
                        frames.append(_frame(next_id, "queue", current))
                    snapshot = current
            if not frames and time.monotonic() - last_sent >= keepalive_seconds:
                frames.append(": keep-alive\n\n")
            if frames:
                last_sent = time.monotonic()
                yield "".join(frames)
    except redis.RedisError:
        # Redis went away: end the stream; the page polls until its reconnect finds Redis back.
        return
    finally:
        pubsub.close()


@bp.app_context_processor
def live_context() -> dict[str, Any]:
    """base.html's `console_live()`: where the stream is (None: switched off) and the fallback poll interval."""
    def live() -> dict[str, Any]:
        push = current_app.extensions["reportsvc.settings"].push
        return {"events_url": "/console/events" if push.sse_enabled else None,
                "poll_ms": int(push.console_poll_seconds * 1000)}
    return {"console_live": live}


@bp.get("/events")
def events() -> Response:
    """The event stream (text/event-stream); the access policy is the console's, like every console GET."""
    push = current_app.extensions["reportsvc.settings"].push
    response = Response(stream(push.sse_max_seconds, push.sse_keepalive_seconds), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx and friends: pass each event on at once
    return response
