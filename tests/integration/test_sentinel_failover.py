"""REDIS_SENTINELS: the app's client (and the views that read through it), the Dramatiq broker and the rate
limiter's storage all find the master through Sentinel and follow a failover (`SENTINEL FAILOVER`, no process
restarted); and a Redis that cannot be reached costs an API request a 503 JSON answer, never a 500."""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
import pytest
import redis
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from reportsvc import redis_client
from reportsvc.dev.engine_base import free_port
from reportsvc.redis_client import RedisTarget, client_for, limiter_storage
from reportsvc.worker.broker import build_broker
from tests.conftest import wait_for, with_sentinel

QUEUE = "sentinel-probe"


def _role(node: Any) -> str:
    return str(redis.Redis(node.host, node.port, socket_timeout=1).info("replication")["role"])


def _served_by(client: redis.Redis) -> int:
    """The TCP port of the server a client's next command goes to."""
    return int(client.info("server")["tcp_port"])


@pytest.fixture
def failover_settings(base_settings, sentinel_group):  # type: ignore[no-untyped-def]
    return with_sentinel(base_settings, sentinel_group, redis_socket_timeout_seconds=1.0)


@pytest.fixture
def probe_worker(failover_settings) -> Any:  # type: ignore[no-untyped-def]
    """A broker built from the Sentinel settings, an actor that records its argument, one worker running it."""
    broker = build_broker(failover_settings)
    seen: list[int] = []
    done = threading.Event()

    @dramatiq.actor(broker=broker, queue_name=QUEUE, max_retries=0)
    def probe(n: int) -> None:
        seen.append(n)
        done.set()

    worker = dramatiq.Worker(broker, queues={QUEUE}, worker_threads=1, worker_timeout=100)
    worker.start()
    yield broker, probe, seen
    worker.stop(timeout=5_000)
    broker.close()


def test_app_client_broker_and_limiter_follow_a_sentinel_failover(app, client, sentinel_group, failover_settings,
                                                                  probe_worker, monkeypatch):
    broker, probe, seen = probe_worker
    monkeypatch.setattr(redis_client, "_default", RedisTarget.of(failover_settings))  # what create_app configures
    app_client = redis_client.get_redis()
    assert client.get("/readyz").get_json()["checks"]["redis"] == "ok"
    uri, options = limiter_storage(failover_settings)
    limiter = FixedWindowRateLimiter(storage_from_string(uri, **options))
    limit = parse("100/minute")

    old = sentinel_group.master()
    app_client.set("reportsvc:probe", "before")
    assert _served_by(app_client) == old.port
    assert [limiter.hit(limit, "probe") for _ in range(3)] == [True] * 3
    probe.send(1)
    wait_for(lambda: seen == [1], timeout=10)
    app_client.execute_command("WAIT", 1, 2000)  # everything so far is on the replica too

    sentinel_group.failover()
    new = sentinel_group.wait_promoted(old, timeout=30)
    wait_for(lambda: _role(old) == "slave", timeout=30)  # the old master was turned into the new one's replica

    # The app's client: same object, now on the promoted replica, with what was written before.
    assert new.port != old.port
    assert _served_by(app_client) == new.port and app_client.get("reportsvc:probe") == b"before"
    app_client.set("reportsvc:probe", "after")
    assert redis.Redis(new.host, new.port).get("reportsvc:probe") == b"after"
    # The broker: an enqueue lands on the new master and the running worker's consumer picks it up.
    probe.send(2)
    wait_for(lambda: seen == [1, 2], timeout=20)
    assert _served_by(broker.client) == new.port
    # The limiter: its window continues on the new master (4th hit of the same window).
    assert limiter.hit(limit, "probe")
    assert limiter.get_window_stats(limit, "probe").remaining == 96
    # Metrics pushes and locks use the same client_for(target) as get_redis(): one pool per target.
    assert client_for(RedisTarget.of(failover_settings)) is app_client
    # The app's views: readiness and the queue pages read the promoted master.
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["redis"] == "ok"
    assert client.get("/queues").status_code == 200


def test_api_answers_503_json_when_redis_cannot_be_reached(app, client, base_settings, monkeypatch):
    unreachable = RedisTarget(f"redis://127.0.0.1:{free_port()}/0", base_settings.sentinel, 1.0)
    monkeypatch.setattr(redis_client, "_default", unreachable)
    response = client.get("/queues")
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert response.get_json()["error"]["code"] == "redis_unavailable"
    page = client.get("/console/queues")
    assert page.status_code == 503 and "Queue store unavailable" in page.get_data(as_text=True)
