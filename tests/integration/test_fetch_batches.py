"""WORKER_FETCH_BATCH: a queue's consumer runs Dramatiq's fetch script in batches, and an ack that makes room
for a batch wakes it at once (real Redis)."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest

from reportsvc.worker.broker import TimeoutAwareConsumer, build_broker

PREFETCH = 16  # Dramatiq's default for a worker of 8 threads: twice the threads


@pytest.fixture
def queue(base_settings: Any) -> Iterator[tuple[Any, str, list[int]]]:
    """A broker on the test Redis (fetch batch 8), a fresh queue holding 40 messages, and the size each fetch
    asked for."""
    broker = build_broker(dataclasses.replace(
        base_settings, hotpath=dataclasses.replace(base_settings.hotpath, worker_fetch_batch=8)))
    name = f"fetch-{uuid.uuid4().hex[:8]}"
    broker.declare_queue(name)
    for i in range(40):
        broker.enqueue(dramatiq.Message(queue_name=name, actor_name="nobody", args=(i,), kwargs={}, options={}))
    asked: list[int] = []
    fetch = broker.do_fetch

    def counting(queue_name: str, count: int) -> Any:
        if queue_name == name:
            asked.append(count)
        return fetch(queue_name, count)

    broker.do_fetch = counting
    yield broker, name, asked
    broker.flush(name)


def take(consumer: Any, n: int) -> list[Any]:
    """The next n messages (a None only means the consumer polled and found nothing yet)."""
    got: list[Any] = []
    deadline = time.monotonic() + 10
    while len(got) < n:
        assert time.monotonic() < deadline, f"only {len(got)} of {n} messages came"
        message = next(consumer)
        if message is not None:
            got.append(message)
    return got


def test_a_busy_queue_is_fetched_in_batches_of_the_setting(queue: tuple[Any, str, list[int]]) -> None:
    broker, name, asked = queue
    consumer = broker.consume(name, prefetch=PREFETCH)
    held = take(consumer, PREFETCH)
    assert asked == [PREFETCH]
    for message in held[:7]:  # room for 7 is less than a batch: no fetch
        consumer.ack(message)
    assert next(consumer) is None
    assert asked == [PREFETCH]
    consumer.ack(held[7])  # room for 8: one fetch of 8
    more = take(consumer, 8)
    assert asked == [PREFETCH, 8]
    assert sorted(m.args[0] for m in held + more) == list(range(24))
    consumer.close()


def test_one_fetches_whenever_one_message_fits_as_dramatiq_does(queue: tuple[Any, str, list[int]]) -> None:
    broker, name, asked = queue
    consumer = TimeoutAwareConsumer(broker, name, PREFETCH, 100, fetch_batch=1)
    held = take(consumer, PREFETCH)
    consumer.ack(held[0])
    take(consumer, 1)
    assert asked == [PREFETCH, 1]
    consumer.close()


def test_the_ack_that_makes_room_wakes_the_waiting_consumer(queue: tuple[Any, str, list[int]]) -> None:
    broker, name, asked = queue
    consumer = TimeoutAwareConsumer(broker, name, PREFETCH, 60_000, fetch_batch=8)  # a minute's poll timeout
    held = take(consumer, PREFETCH)
    got: list[Any] = []
    taker = threading.Thread(target=lambda: got.extend(take(consumer, 8)), daemon=True)
    taker.start()
    for message in held[:8]:
        consumer.ack(message)
    taker.join(timeout=20)  # far under the minute the consumer would otherwise sleep
    assert not taker.is_alive() and len(got) == 8
    assert asked == [PREFETCH, 8]
    consumer.close()


def test_a_delay_queue_consumer_fetches_whenever_it_has_room(base_settings: Any) -> None:
    broker = build_broker(base_settings)
    assert TimeoutAwareConsumer(broker, "reports.DQ", 8000, 100, fetch_batch=8).fetch_batch == 1
    assert TimeoutAwareConsumer(broker, "reports", 4, 100, fetch_batch=8).fetch_batch == 2  # half the prefetch
    assert broker.consume("reports", prefetch=PREFETCH).fetch_batch == base_settings.hotpath.worker_fetch_batch
