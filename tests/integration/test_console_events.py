"""GET /console/events: resync first, report events published after commit, keep-alives, the time limit."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

from tests.conftest import wait_status


def _read_events(response, until, timeout=10.0):
    """Parse the stream into (event, data, id) tuples until `until(events)` or the stream ends."""
    events, buffer = [], ""
    deadline = time.monotonic() + timeout
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":")
            if block.startswith(":"):
                events.append(("comment", block, None))
            elif "event" in fields:
                events.append((fields["event"], json.loads(fields["data"]), fields.get("id")))
        if until(events) or time.monotonic() > deadline:
            break
    return events


def test_stream_starts_with_resync_and_carries_report_transitions(client, settings, base_settings, worker):
    settings(push=replace(base_settings.push, sse_max_seconds=20))
    response = client.get("/console/events")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["X-Accel-Buffering"] == "no" and response.headers["Cache-Control"] == "no-cache"
    created: list[str] = []

    def create_later():
        time.sleep(0.5)
        created.append(client.post("/reports", json={}).get_json()["id"])

    threading.Thread(target=create_later).start()
    events = _read_events(response, lambda ev: any(e[0] == "report" and e[1]["status"] == "READY" for e in ev))
    response.close()
    assert events[0][0] == "resync"
    kinds = [(e[1]["id"], e[1]["kind"], e[1]["status"]) for e in events if e[0] == "report"]
    report_id = created[0]
    assert (report_id, "created", "PENDING") in kinds and (report_id, "completed", "READY") in kinds
    assert kinds.index((report_id, "created", "PENDING")) < kinds.index((report_id, "completed", "READY"))
    ids = [int(e[2]) for e in events if e[2]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    wait_status(client, report_id, {"READY"})


def test_idle_stream_sends_keepalives_and_ends_after_sse_max_seconds(client, settings, base_settings):
    settings(push=replace(base_settings.push, sse_max_seconds=2.5, sse_keepalive_seconds=0.5))
    started = time.monotonic()
    response = client.get("/console/events", headers={"Last-Event-ID": "12345"})
    events = _read_events(response, lambda ev: False, timeout=10)
    elapsed = time.monotonic() - started
    assert events[0][0] == "resync"  # a reconnect gets the current state first
    assert sum(1 for e in events if e[0] == "comment") >= 2
    assert 2.4 <= elapsed < 6


def test_stream_needs_a_signed_in_user(anon_client):
    response = anon_client.get("/console/events")
    assert response.status_code in (302, 401)
    assert "text/event-stream" not in response.headers.get("Content-Type", "")


def test_a_transition_makes_cached_tab_counts_stale_at_once(app, client):
    import uuid

    from reportsvc.state import lifecycle, queries

    report_id = client.post("/reports", json={}).get_json()["id"]
    with app.app_context():
        queries.clear_status_counts_cache()
        assert queries.status_counts(max_age=3600)["PENDING"].value == 1  # cached for an hour, were it not for events
        lifecycle.cancel(uuid.UUID(report_id), actor="test")  # straight through the lifecycle: no cache clearing
        counts = queries.status_counts(max_age=3600)
    assert counts["PENDING"].value == 0 and counts["CANCELLED"].value == 1
