"""reportsvc.web.limits, the rate limits without Flask-Limiter (issue 16): several windows in one setting,
a limit switched off, a Redis that does not answer, and the counters' Redis keys."""

from __future__ import annotations

import logging

from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

from reportsvc.web.limits import limits


def test_the_smallest_window_refuses_first_and_the_larger_stops_counting(client, settings, redis_client):
    settings(rate_limit_report_create="2 per 5 seconds;100 per hour")
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


def test_a_redis_that_does_not_answer_limits_nothing_and_says_so(client, settings, monkeypatch, caplog):
    settings(rate_limit_report_create="1 per minute")
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
