"""The reconciler: live messages are left alone (cheaply, in batches), orphans get exactly one new message."""

from __future__ import annotations

import time

from reportsvc import sweeper
from reportsvc.queues.probe import surely_live
from reportsvc.redis_client import get_redis


def test_waiting_messages_are_left_alone_and_orphans_resent(app, client, settings, redis_client):
    current = settings(reconcile_grace_seconds=0)
    ids = [client.post("/reports").get_json()["id"] for _ in range(5)]
    message_ids = [client.get(f"/reports/{i}").get_json()["message_id"] for i in ids]
    # A producer that went quiet long ago (like an idle web process) holds nothing and must not matter.
    redis_client.zadd("dramatiq:__heartbeats__", {"quiet-producer": time.time() * 1000 - 3_600_000})
    assert surely_live(redis_client, message_ids, dead_after_ms=60_000) == set(message_ids)

    # Lose one message the way a Redis failure would: body and list entry gone.
    index = redis_client.get(f"reportsvc:msgindex:{message_ids[0]}").decode()
    redis_id = index.split("|")[1]
    redis_client.hdel("dramatiq:reports.msgs", redis_id)
    redis_client.lrem("dramatiq:reports", 0, redis_id)
    assert surely_live(redis_client, message_ids, dead_after_ms=60_000) == set(message_ids[1:])

    with app.app_context():
        result = sweeper.reconcile_orphans(get_redis(), current)
        assert result.requeued == [ids[0]] and result.skipped == 4
        again = sweeper.reconcile_orphans(get_redis(), current)
    assert again.requeued == [] and again.skipped == 5
    assert redis_client.llen("dramatiq:reports") == 5


def test_a_dead_worker_holding_messages_forces_the_exact_check(app, redis_client):
    redis_client.set("reportsvc:msgindex:m1", "reports|r1")
    redis_client.hset("dramatiq:reports.msgs", "r1", b"{}")
    redis_client.zadd("dramatiq:__heartbeats__", {"dead-worker": time.time() * 1000 - 3_600_000})
    redis_client.sadd("dramatiq:__acks__.dead-worker.reports", "r1")
    assert surely_live(redis_client, ["m1"], dead_after_ms=60_000) == set()
    redis_client.srem("dramatiq:__acks__.dead-worker.reports", "r1")
    assert surely_live(redis_client, ["m1"], dead_after_ms=60_000) == {"m1"}
    redis_client.flushdb()
