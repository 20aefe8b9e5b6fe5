"""Dead-letter requeue and delete accept either id the list shows: the Redis id or Dramatiq's message_id."""

from __future__ import annotations

import time
import uuid

from tests.integration.test_deadletters import fabricate_dead


def _letter(app, redis_client) -> tuple[str, str]:
    """(redis_id, message_id) of one fabricated dead letter, indexed as the broker indexes every enqueue."""
    redis_id = fabricate_dead(app, redis_client, [(uuid.uuid4(), "boom", time.time() * 1000)])[0]
    import json

    message_id = json.loads(redis_client.hget("dramatiq:reports.XQ.msgs", redis_id))["message_id"]
    redis_client.set(f"reportsvc:msgindex:{message_id}", f"reports|{redis_id}")
    return redis_id, message_id


def test_requeue_by_dramatiq_message_id_requeues_the_letter(app, client, redis_client):
    redis_id, message_id = _letter(app, redis_client)
    listed = client.get("/queues/reports/dead").get_json()["items"]
    assert [(m["message_id"], m["redis_id"]) for m in listed] == [(message_id, redis_id)]
    r = client.post("/queues/reports/dead/requeue", json={"ids": [message_id]})
    assert r.status_code == 200 and r.get_json()["done"] == 1, r.get_json()
    assert redis_client.zscore("dramatiq:reports.XQ", redis_id) is None


def test_delete_by_message_id_and_unknown_ids_are_named_missing(app, client, redis_client):
    redis_id, message_id = _letter(app, redis_client)
    r = client.post("/queues/reports/dead/delete", json={"ids": [message_id, "no-such-id"]})
    assert r.status_code == 200
    body = r.get_json()
    assert body["done"] == 1 and body["missing"] == ["no-such-id"], body
    assert redis_client.zcard("dramatiq:reports.XQ") == 0
