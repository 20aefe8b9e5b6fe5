"""reportsvc.web.limits, the rate limits without Flask-Limiter (issue 16): several windows in one setting,
a limit switched off, a Redis that does not answer, and the counters' Redis keys."""

from __future__ import annotations

import logging
import time

import pytest
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

from reportsvc.web.limits import limits


def test_the_smallest_window_refuses_first_and_the_larger_stops_counting(client, settings, redis_client):
    settings(rate_limit_report_create="2 per 5 seconds;100 per hour", rate_limit_reserve=1)
    assert [client.post("/reports").status_code for _ in range(2)] == [202, 202]
    refused = client.post("/reports")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 5
    assert refused.get_json()["error"]["message"].startswith("too many requests: limit 2 per 5 second")
    hour = [key for key in redis_client.scan_iter("LIMITS:*/create/100/1/hour")]
    assert len(hour) == 1
    assert int(redis_client.get(hour[0])) == 2  # the refused request was stopped at the 5-second window


def test_an_empty_limit_string_switches_that_limit_off(client, settings, redis_client):
    settings(rate_limit_report_create="")
    assert {client.post("/reports").status_code for _ in range(4)} == {202}
    assert list(redis_client.scan_iter("LIMITS:*/create/*")) == []


def test_rate_limit_enabled_off_counts_nothing(client, settings, redis_client):
    settings(rate_limit_report_create="1 per minute", rate_limit_enabled=False)
    assert {client.post("/reports").status_code for _ in range(3)} == {202}
    assert list(redis_client.scan_iter("LIMITS:*")) == []


@pytest.mark.parametrize("limit", ["1 per minute", "1000 per minute"])  # counted exactly; reserved in chunks
def test_a_redis_that_does_not_answer_limits_nothing_and_says_so(client, settings, monkeypatch, caplog, limit):
    settings(rate_limit_report_create=limit)
    dead = RedisStorage("redis://127.0.0.1:1/0", socket_connect_timeout=0.5, socket_timeout=0.5)
    monkeypatch.setattr(limits, "strategy", FixedWindowRateLimiter(dead))
    with caplog.at_level(logging.WARNING, logger="reportsvc.web.limits"):
        codes = [client.post("/reports").status_code for _ in range(2)]
    assert codes == [202, 202]
    assert any("not checked" in r.getMessage() for r in caplog.records)


def test_counters_use_flask_limiters_key_scheme(client, settings, redis_client):
    settings(rate_limit_report_create="5 per minute")
    assert client.post("/reports").status_code == 202
    # LIMITS:LIMITER/<prefix>/<key>/<scope>/<amount>/<multiples>/<granularity>, as Flask-Limiter wrote them:
    # a window running when the service is upgraded keeps counting.
    assert [k.decode() for k in redis_client.scan_iter("LIMITS:*")] == [
        "LIMITS:LIMITER/reportsvc-rl/user:test-operator/create/5/1/minute"]


def _counter(redis_client, scope: str) -> int:
    keys = list(redis_client.scan_iter(f"LIMITS:*/{scope}/*"))
    assert len(keys) == 1, keys
    return int(redis_client.get(keys[0]))


def test_a_reserve_takes_a_chunk_in_one_incrby_and_spends_it_before_asking_again(client, settings, redis_client):
    settings(rate_limit_report_create="1000 per hour", rate_limit_reserve=10)
    assert client.post("/reports").status_code == 202
    assert _counter(redis_client, "create") == 10  # one round trip took ten hits
    assert {client.post("/reports").status_code for _ in range(9)} == {202}
    assert _counter(redis_client, "create") == 10  # nine spent from the chunk in hand, none asked of Redis
    assert client.post("/reports").status_code == 202
    assert _counter(redis_client, "create") == 20


def test_rate_limit_reserve_1_counts_every_hit_in_redis(client, settings, redis_client):
    settings(rate_limit_report_create="1000 per hour", rate_limit_reserve=1)
    assert {client.post("/reports").status_code for _ in range(3)} == {202}
    assert _counter(redis_client, "create") == 3


def test_a_limit_under_forty_is_counted_exactly_whatever_the_reserve(client, settings, redis_client):
    settings(rate_limit_report_create="39 per minute", rate_limit_reserve=10)
    assert {client.post("/reports").status_code for _ in range(3)} == {202}
    assert _counter(redis_client, "create") == 3


def test_one_process_with_a_reserve_allows_exactly_its_limit_then_refuses_with_retry_after(client, settings):
    settings(rate_limit_report_create="40 per minute", rate_limit_reserve=10)  # chunk 2
    assert [client.post("/reports").status_code for _ in range(40)] == [202] * 40
    refused = client.post("/reports")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_processes_holding_chunks_never_pass_the_limit_and_refuse_early_at_most_by_what_they_hold(app, redis_client):
    from limits import parse

    from reportsvc.web.limit_reserve import Reservations, chunk_for

    item = parse("100 per minute")
    chunk = chunk_for(item, 10)
    assert chunk == 5
    processes = [Reservations() for _ in range(3)]
    storage = limits.strategy.storage
    allowed = 0
    for n in range(300):  # round robin, as a load balancer spreads one client's requests
        allowed += processes[n % 3].hit(storage, item, "LIMITER/t/k/s/100/1/minute", 10).allowed
    assert len(processes) * (chunk - 1) >= 100 - allowed >= 0
    assert int(redis_client.get("LIMITS:LIMITER/t/k/s/100/1/minute")) >= 100


def test_a_chunk_is_not_spent_after_its_window_ends(client, settings, redis_client):
    settings(rate_limit_report_create="100 per 2 seconds", rate_limit_reserve=10)  # chunk 5
    assert client.post("/reports").status_code == 202
    assert _counter(redis_client, "create") == 5
    deadline = time.monotonic() + 30
    while list(redis_client.scan_iter("LIMITS:*/create/*")):  # the window's key expires with the window
        assert time.monotonic() < deadline, "the window's key never expired"
        time.sleep(0.1)
    assert client.post("/reports").status_code == 202
    assert _counter(redis_client, "create") == 5  # a new chunk in the new window, not the old one's leftovers
