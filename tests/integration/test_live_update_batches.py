"""LIVE_UPDATE_BATCH_MS: a worker process's announces go out in batches, in the order committed, none lost at stop."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest

from reportsvc.names import COUNTS_GENERATION_KEY, EVENTS_CHANNEL
from reportsvc.state import lifecycle, live_updates
from tests.conftest import wait_for, wait_status


@pytest.fixture
def events(app):  # type: ignore[no-untyped-def]
    """Every report event published on the console's channel from now on, parsed, in arrival order."""
    from reportsvc.redis_client import get_redis

    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(EVENTS_CHANNEL)
    wait_for(lambda: pubsub.get_message(timeout=0.05) is None and pubsub.subscribed, timeout=5)
    seen: list[dict[str, Any]] = []

    def received() -> list[dict[str, Any]]:
        while (message := pubsub.get_message(timeout=0.01)) is not None:
            data = json.loads(message["data"])
            if data.get("type") == "report":
                seen.append(data)
        return seen

    yield received
    pubsub.close()


@pytest.fixture
def batching():  # type: ignore[no-untyped-def]
    """Start this process's batcher with a given interval; stopped (and flushed) at teardown."""
    yield live_updates.slot.start
    live_updates.slot.stop()


def test_batched_events_arrive_in_the_order_they_were_announced(app, events, batching):
    from reportsvc.redis_client import get_redis

    generation = int(get_redis().get(COUNTS_GENERATION_KEY) or 0)
    batching(20)
    reports = [uuid.uuid4() for _ in range(5)]
    sent = []
    for step, (status, kind) in enumerate([("RUNNING", "claimed"), ("RUNNING", "progress"), ("READY", "completed")]):
        for report_id in reports:
            lifecycle.announce(report_id, status, kind, step * 50)
            sent.append((str(report_id), kind))
    got = wait_for(lambda: len(events()) >= len(sent) and events(), timeout=10)
    assert [(e["id"], e["kind"]) for e in got] == sent
    assert int(get_redis().get(COUNTS_GENERATION_KEY) or 0) > generation  # the tab counts went stale


def test_stop_sends_what_is_still_queued(app, events):
    live_updates.slot.start(60_000)  # a batch a minute: only stop can send these in time
    report_id = uuid.uuid4()
    for kind in ("claimed", "completed"):
        lifecycle.announce(report_id, "RUNNING", kind)
    live_updates.slot.stop()
    got = wait_for(lambda: len(events()) >= 2 and events(), timeout=10)
    assert [(e["id"], e["kind"]) for e in got] == [(str(report_id), "claimed"), (str(report_id), "completed")]


def test_without_a_batcher_an_announce_is_published_at_once(app, events):
    live_updates.slot.stop()
    report_id = uuid.uuid4()
    lifecycle.announce(report_id, "READY", "completed", 100)
    assert live_updates.submit("{}") is False
    got = wait_for(lambda: events(), timeout=10)
    assert (got[0]["id"], got[0]["kind"]) == (str(report_id), "completed")


@pytest.mark.parametrize("batch_ms", [5, 0])
def test_a_worker_announces_claimed_before_completed(app, client, settings, make_worker, events, batch_ms):
    from reportsvc.config import get_settings

    settings(hotpath=dataclasses.replace(get_settings().hotpath, live_update_batch_ms=batch_ms))
    make_worker()
    ids = [client.post("/reports", json={}).get_json()["id"] for _ in range(6)]
    for report_id in ids:
        wait_status(client, report_id, {"READY"})
    got = wait_for(lambda: (e := events()) and all(any(x["id"] == r and x["kind"] == "completed" for x in e)
                                                   for r in ids) and e, timeout=10)
    for report_id in ids:
        kinds = [e["kind"] for e in got if e["id"] == report_id]
        assert kinds.index("claimed") < kinds.index("completed"), kinds
