"""The broker's enqueue keeps the message index in the same round trip, through every way a message moves."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
import redis

from reportsvc.names import NAMESPACE
from reportsvc.queues.index import MESSAGE_INDEX_PREFIX
from reportsvc.worker.broker import build_broker

QUEUE = "idxtest"


@pytest.fixture
def broker(engines: Any, base_settings: Any) -> Iterator[Any]:
    url = engines.redis_url.rsplit("/", 1)[0] + "/8"  # a database of its own: these tests flush it
    redis.Redis.from_url(url).flushdb()
    b = build_broker(dataclasses.replace(base_settings, redis_url=url, retry_delays_ms=(200,)))
    b.declare_queue(QUEUE)
    yield b
    b.client.flushdb()
    b.close()


def indexed(b: Any, message: dramatiq.Message) -> str | None:
    raw = b.client.get(MESSAGE_INDEX_PREFIX + message.message_id)
    return raw.decode() if raw else None


def test_send_indexes_the_redis_entry(broker: Any) -> None:
    @dramatiq.actor(broker=broker, queue_name=QUEUE)
    def noop(n: int) -> None: ...

    m = noop.send(1)
    assert indexed(broker, m) == f"{QUEUE}|{m.options['redis_message_id']}"
    ttl_ms = broker.client.pttl(MESSAGE_INDEX_PREFIX + m.message_id)
    assert 7 * 86_400_000 < ttl_ms <= 8 * 86_400_000  # outlives Dramatiq's 7-day dead-letter TTL
    # The entry really is in the queue under that id (Dramatiq's own script ran, with our arguments).
    assert broker.client.hexists(f"{NAMESPACE}:{QUEUE}.msgs", m.options["redis_message_id"])


def test_delayed_send_points_at_the_delay_queue(broker: Any) -> None:
    @dramatiq.actor(broker=broker, queue_name=QUEUE)
    def noop(n: int) -> None: ...

    m = noop.send_with_options(args=(1,), delay=60_000)
    assert indexed(broker, m) == f"{QUEUE}.DQ|{m.options['redis_message_id']}"


def test_enqueue_after_script_flush_still_sends_and_indexes(broker: Any) -> None:
    """A restarted (or SCRIPT FLUSHed) Redis forgets Dramatiq's script: the pipelined EVALSHA fails
    with NOSCRIPT and the enqueue falls back to loading it; the message is queued exactly once."""

    @dramatiq.actor(broker=broker, queue_name=QUEUE)
    def noop(n: int) -> None: ...

    noop.send(0)
    broker.client.script_flush()
    m = noop.send(1)
    assert indexed(broker, m) == f"{QUEUE}|{m.options['redis_message_id']}"
    assert broker.client.llen(f"{NAMESPACE}:{QUEUE}") == 2
    assert broker.client.hlen(f"{NAMESPACE}:{QUEUE}.msgs") == 2


def test_a_retry_moves_the_index_to_its_new_entry_and_a_worker_runs_it(broker: Any) -> None:
    ran: list[int] = []
    lock = threading.Lock()

    @dramatiq.actor(broker=broker, queue_name=QUEUE, max_retries=1, exact_retries=True)
    def flaky(n: int) -> None:
        with lock:
            ran.append(n)
            if len(ran) == 1:
                raise RuntimeError("first try fails")

    m = flaky.send(7)
    first = indexed(broker, m)
    worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=1)
    worker.start()
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and len(ran) < 2:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert ran == [7, 7]
    after = indexed(broker, m)
    assert after is not None and after != first  # the retry (and its coming due) renewed the Redis id
