"""The lean `POST /reports` path (issue 16) keeps its guarantees: the 'created' console event rides in the
enqueue's Redis round trip (and still goes out when it cannot), a lost database connection is replaced,
an API call leaves no session cookie behind, and the enqueue log line is at the level CREATE_LOG_LINE says."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from redis.client import Pipeline

from reportsvc.config import get_settings
from reportsvc.names import EVENTS_CHANNEL
from tests.db_faults import kill_backends_since


def _created_events(pubsub: Any, report_id: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    deadline, found = time.monotonic() + timeout, []
    while time.monotonic() < deadline and not found:
        message = pubsub.get_message(timeout=0.2)
        if message and message["type"] == "message":
            data = json.loads(message["data"])
            if data["id"] == report_id and data["kind"] == "created":
                found.append(data)
    return found


def test_created_event_rides_in_the_enqueue_pipeline_ahead_of_the_message(client, redis_client, monkeypatch):
    sent: list[list[str]] = []
    execute = Pipeline.execute

    def recording(self: Pipeline, *args: Any, **kwargs: Any) -> Any:
        sent.append([str(cmd[0][0]).upper() for cmd in self.command_stack])
        return execute(self, *args, **kwargs)

    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(EVENTS_CHANNEL)
    monkeypatch.setattr(Pipeline, "execute", recording)
    response = client.post("/reports", json={"title": "rides along"})
    monkeypatch.undo()
    assert response.status_code == 202
    report_id = response.get_json()["id"]
    # One pipeline for the whole create: the counts generation and the event first (the generation ahead of
    # the event, as every announce), then Dramatiq's enqueue script and the message-index SET, so a worker's
    # 'claimed' can never be published before it.
    assert sent == [["INCRBY", "PUBLISH", "EVALSHA", "SET"]]
    events = _created_events(pubsub, report_id)
    pubsub.close()
    assert [(e["status"], e["progress"]) for e in events] == [("PENDING", 0)]


def test_created_event_is_sent_on_its_own_when_the_broker_takes_no_riders(client, redis_client, monkeypatch):
    from reportsvc.worker import broker

    monkeypatch.setattr(broker, "board", lambda pipe: 0)  # a broker whose enqueue has no shared pipeline
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(EVENTS_CHANNEL)
    response = client.post("/reports", json={})
    assert response.status_code == 202
    assert len(_created_events(pubsub, response.get_json()["id"])) == 1
    pubsub.close()


def test_a_killed_database_connection_fails_at_most_one_create(app, client):
    from reportsvc.extensions import db

    started = datetime.now(UTC)  # the database runs on this host: one clock
    with app.app_context():
        db.engine.dispose()  # a fresh pool: the connections opened from here on are the app's own
    assert client.post("/reports", json={}).status_code == 202  # the pool holds its connection(s) now
    assert kill_backends_since(app, started) >= 1
    codes = []
    for _ in range(3):
        try:
            codes.append(client.post("/reports", json={}).status_code)
        except Exception as exc:  # the test client re-raises a view's error instead of answering 500
            codes.append(type(exc).__name__)
    assert codes[1:] == [202, 202], codes


def test_an_api_call_sets_no_session_cookie(client):
    response = client.post("/reports", json={})
    assert response.status_code == 202
    assert "Set-Cookie" not in response.headers
    assert response.headers["Location"] == f"/reports/{response.get_json()['id']}"


def _enqueued_lines(caplog: Any) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records
            if r.name == "reportsvc.ops.jobs" and "enqueued as message" in r.getMessage()]


def test_create_log_line_off_writes_the_enqueue_line_at_debug_only(client, settings, caplog):
    settings(hotpath=dataclasses.replace(get_settings().hotpath, create_log_line=False))
    with caplog.at_level(logging.DEBUG, logger="reportsvc.ops.jobs"):
        report_id = client.post("/reports", json={"title": "quiet"}).get_json()["id"]
    assert [(level, report_id in text) for level, text in _enqueued_lines(caplog)] == [(logging.DEBUG, True)]


def test_create_log_line_on_writes_the_enqueue_line_at_info_as_before(client, settings, caplog):
    settings(hotpath=dataclasses.replace(get_settings().hotpath, create_log_line=True))
    with caplog.at_level(logging.INFO, logger="reportsvc.ops.jobs"):
        report_id = client.post("/reports", json={"title": "said"}).get_json()["id"]
    assert [(level, report_id in text) for level, text in _enqueued_lines(caplog)] == [(logging.INFO, True)]
