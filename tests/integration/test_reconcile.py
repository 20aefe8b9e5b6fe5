"""The reconciler: live messages are left alone (cheaply, in batches), orphans get exactly one new message."""

from __future__ import annotations

import time

import pytest

from reportsvc.ops import sweeper
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


def _orphans(client, redis_client, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    """n PENDING reports with no message anywhere (Redis emptied after they were queued)."""
    ids = [client.post("/reports").get_json()["id"] for _ in range(n)]
    redis_client.flushdb()
    return ids


LOCK_KEY = sweeper.LOCK_PREFIX + "reconcile"


@pytest.mark.parametrize("loss", ["stolen", "expired"])
def test_a_walk_that_loses_its_lock_stops_after_the_current_batch(app, client, settings, redis_client,
                                                                   monkeypatch, loss):
    """Another scheduler took the lock mid-walk (or a FLUSHALL dropped it): finish this batch, send no more."""
    current = settings(reconcile_grace_seconds=0)
    ids = _orphans(client, redis_client, 12)
    monkeypatch.setattr(sweeper, "BATCH", 5)
    real = sweeper.ensure_one_live_message

    def lose_the_lock_once(*args, **kwargs):  # type: ignore[no-untyped-def]
        if loss == "stolen" and redis_client.get(LOCK_KEY) != b"other-scheduler":
            redis_client.set(LOCK_KEY, "other-scheduler", px=60_000)
        elif loss == "expired":
            redis_client.delete(LOCK_KEY)
        return real(*args, **kwargs)

    monkeypatch.setattr(sweeper, "ensure_one_live_message", lose_the_lock_once)
    with app.app_context():
        result = sweeper.reconcile_orphans(get_redis(), current)
    assert result.lock_lost and "lost the lock" in result.summary()
    assert result.examined == 5 and result.requeued == ids[:5]  # the batch in hand is finished, no more
    assert redis_client.llen("dramatiq:reports") == 5
    # Leaving never deletes a lock that is someone else's.
    assert redis_client.get(LOCK_KEY) == (b"other-scheduler" if loss == "stolen" else None)


def _age_lock(redis_client, ms: int) -> None:  # type: ignore[no-untyped-def]
    """Let `ms` of the reconcile lock's life pass at once, as a slow batch would (gone at zero, as in Redis).

    The walk's clock is the key's expiry: ageing it instead of sleeping makes "a walk longer than the TTL" exact
    while the real time a batch takes stays a small share of the TTL, however loaded the machine (a 3 s TTL
    with 1.2 s of sleep per batch lost the lock at load 15: the third batch's four sends took the other 1.8 s)."""
    left = redis_client.pttl(LOCK_KEY)
    if left > ms:
        redis_client.pexpire(LOCK_KEY, left - ms)
    elif left > 0:
        redis_client.delete(LOCK_KEY)


#: The walks below hold a 30 s lock and every row ages it by 4 s: a batch of 4 uses up 16 s of the TTL, two
#: batches more than all of it, so only the renewal after each batch keeps the lock alive.
WALK_TTL_MS, ROW_AGES_MS = 30_000, 4_000


def test_a_long_walk_keeps_its_lock(app, client, settings, redis_client, monkeypatch):
    """A walk longer than the lock's TTL renews it after every batch, so no second scheduler can start."""
    current = settings(reconcile_grace_seconds=0)
    ids = _orphans(client, redis_client, 16)
    monkeypatch.setattr(sweeper, "BATCH", 4)
    real = sweeper.ensure_one_live_message
    remaining_ttl: list[int] = []

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        remaining_ttl.append(redis_client.pttl(LOCK_KEY))  # -2: the key is gone
        _age_lock(redis_client, ROW_AGES_MS)
        return real(*args, **kwargs)

    monkeypatch.setattr(sweeper, "ensure_one_live_message", slow)
    with app.app_context():
        result = sweeper.reconcile_orphans(get_redis(), current, lock_ttl_ms=WALK_TTL_MS)
    assert len(remaining_ttl) * ROW_AGES_MS > 2 * WALK_TTL_MS  # the walk outlived its TTL twice over
    assert not result.lock_lost and sorted(result.requeued) == sorted(ids)
    assert len(remaining_ttl) == 16 and min(remaining_ttl) > 0, remaining_ttl
    # Each batch starts on a renewed lock: unrenewed, the second batch's first row would see at most 14 s left.
    assert all(ttl > WALK_TTL_MS - 3 * ROW_AGES_MS for ttl in remaining_ttl[::4]), remaining_ttl
    with app.app_context():  # meanwhile a second scheduler would have been turned away; now the lock is free
        assert not sweeper.reconcile_orphans(get_redis(), current, lock_ttl_ms=3000).locked_out
    assert redis_client.get(LOCK_KEY) is None
    assert redis_client.llen("dramatiq:reports") == 16


def test_a_second_scheduler_is_turned_away_while_a_walk_renews_its_lock(app, client, settings, redis_client,
                                                                         monkeypatch):
    current = settings(reconcile_grace_seconds=0)
    _orphans(client, redis_client, 8)
    monkeypatch.setattr(sweeper, "BATCH", 4)
    real = sweeper.ensure_one_live_message
    rivals: list[bool] = []

    def rival_tries(*args, **kwargs):  # type: ignore[no-untyped-def]
        _age_lock(redis_client, ROW_AGES_MS)  # a batch uses up 16 s of the 30 s TTL; the walk (32 s) outlives it
        with sweeper.redis_lock(redis_client, "reconcile", ttl_ms=WALK_TTL_MS) as rival:
            rivals.append(bool(rival))
        return real(*args, **kwargs)

    monkeypatch.setattr(sweeper, "ensure_one_live_message", rival_tries)
    with app.app_context():
        result = sweeper.reconcile_orphans(get_redis(), current, lock_ttl_ms=WALK_TTL_MS)
    assert len(result.requeued) == 8 and rivals == [False] * 8
