"""A Redis that stops answering fails broker calls within the socket timeout instead of hanging them."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.errors import BrokerConnectionError

from reportsvc import redis_client
from reportsvc.worker.broker import build_broker

TIMEOUT = 1.0  # REDIS_SOCKET_TIMEOUT_SECONDS in these tests
SLACK = 2.0  # scheduling on a loaded 2-core machine; a hang would take minutes


@pytest.fixture
def silent_redis() -> Iterator[str]:
    """A Redis URL whose port accepts connections (the kernel completes the handshake) and never answers,
    like a server behind a firewall that drops packets. Closing it resets the connections, which also
    frees a call left hanging by a regression."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


def finishes_within(seconds: float, call: Callable[[], Any]) -> tuple[Any, BaseException | None, float]:
    """Run call in a thread; (its result, what it raised, elapsed s); fail the test if it is still blocked."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        try:
            outcome["result"] = call()
        except BaseException as exc:  # reported to the test, not swallowed
            outcome["error"] = exc
        outcome["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=run, name="finishes-within", daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds} s: no socket timeout on this connection"
    return outcome.get("result"), outcome.get("error"), outcome["elapsed"]


def test_broker_and_app_clients_carry_the_timeouts(app: Any, base_settings: Any) -> None:
    from reportsvc.web.limits import limits

    for client in (build_broker(base_settings).client, redis_client.get_redis(),
                   dramatiq.get_broker().client,  # type: ignore[attr-defined]
                   # the rate limiter's own pool (checked before every create)
                   limits.storage.storage):  # type: ignore[union-attr]
        kwargs = client.connection_pool.connection_kwargs
        assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"], kwargs["health_check_interval"]) \
            == (5.0, 2.0, 30)
    tuned = build_broker(dataclasses.replace(base_settings, redis_socket_timeout_seconds=0.5))
    kwargs = tuned.client.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.5, 0.5)
    # Never retried: a timed-out enqueue may have run, and a retry would queue the report twice.
    assert tuned.client.connection_pool.make_connection().retry.get_retries() == 0


@pytest.fixture
def silent_broker(base_settings: Any, silent_redis: str) -> Any:
    """A broker (not the global one) pointed at the silent Redis, with a 1 s socket timeout."""
    broker = build_broker(dataclasses.replace(base_settings, redis_url=silent_redis,
                                              redis_socket_timeout_seconds=TIMEOUT))
    broker.declare_queue("reports")
    return broker


def test_enqueue_to_a_silent_redis_fails_within_the_timeout(silent_broker: Any) -> None:
    message = dramatiq.Message(queue_name="reports", actor_name="generate_report", args=(str(uuid.uuid4()),),
                               kwargs={}, options={})
    _, error, elapsed = finishes_within(TIMEOUT + SLACK + 5, lambda: silent_broker.enqueue(message))
    assert isinstance(error, redis.TimeoutError)
    assert elapsed < TIMEOUT + SLACK


def test_worker_calls_to_a_silent_redis_count_as_connection_losses(silent_broker: Any) -> None:
    """Dramatiq retries an ack and restarts a consumer on BrokerConnectionError; a bare redis.TimeoutError
    would leave the message unacknowledged for good, or kill the consumer thread."""
    consumer = silent_broker.consume("reports", prefetch=1, timeout=100)
    message = dramatiq.Message(queue_name="reports", actor_name="generate_report", args=("x",), kwargs={},
                               options={"redis_message_id": str(uuid.uuid4())})
    proxy = dramatiq.MessageProxy(message)
    # A fetch is the exception: a plain error makes Dramatiq close the consumer (requeueing its delayed
    # messages) and restart it, where ConnectionClosed would drop them (see TimeoutAwareConsumer).
    _, error, elapsed = finishes_within(TIMEOUT + SLACK + 5, lambda: next(consumer))
    assert isinstance(error, redis.TimeoutError) and elapsed < TIMEOUT + SLACK, error
    for call in (lambda: consumer.ack(proxy), lambda: consumer.nack(proxy), lambda: consumer.requeue([proxy])):
        _, error, elapsed = finishes_within(TIMEOUT + SLACK + 5, call)
        assert isinstance(error, BrokerConnectionError), error
        assert isinstance(error.__cause__ or error.args[0], redis.TimeoutError)
        assert elapsed < TIMEOUT + SLACK


def test_post_reports_answers_when_redis_stops_answering(client: Any, settings: Any, silent_redis: str) -> None:
    """The row is committed, the send times out: 202 within the timeout, PENDING for the reconciler."""
    settings(redis_url=silent_redis, redis_socket_timeout_seconds=TIMEOUT)  # the global broker now sends there
    response, error, elapsed = finishes_within(
        TIMEOUT + SLACK + 5, lambda: client.post("/reports", json={"title": "redis is silent"}))
    assert error is None
    assert response.status_code == 202, response.get_data(as_text=True)
    assert elapsed < TIMEOUT + SLACK
    body = client.get(f"/reports/{response.get_json()['id']}").get_json()
    assert body["status"] == "PENDING" and body["message_id"] is None
    failed = [e for e in body["events"] if e["kind"] == "enqueue_failed"]
    assert len(failed) == 1 and "Timeout" in str(failed[0])
