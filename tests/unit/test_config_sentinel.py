"""REDIS_SENTINELS, REDIS_SENTINEL_MASTER and REDIS_SENTINEL_PASSWORD: parsed into the settings, every bad value
refused with one line naming its variable, and turned into the same Sentinel connection for the app's client,
the broker and the rate limiter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from limits.storage import RedisSentinelStorage
from redis.sentinel import SentinelConnectionPool

from reportsvc.config import ConfigError, load_settings
from reportsvc.dev.settings import make_plan
from reportsvc.redis_client import RedisTarget, limiter_storage, new_pool
from reportsvc.web.limits import RateLimits

ROOT = Path(__file__).resolve().parents[2]
SENTINELS = {"REDIS_SENTINELS": "sentinel-1:26379, 10.0.0.7:26380,[::1]:26381", "REDIS_SENTINEL_MASTER": "reports"}


def test_sentinels_master_and_passwords_are_read():
    s = load_settings({**SENTINELS, "REDIS_SENTINEL_PASSWORD": "s-pass", "REDIS_PASSWORD": "m-pass", "REDIS_DB": "3"})
    assert s.sentinel.enabled
    assert s.sentinel.sentinels == (("sentinel-1", 26379), ("10.0.0.7", 26380), ("::1", 26381))
    assert s.sentinel.master == "reports" and s.sentinel.db == 3
    assert (s.sentinel.sentinel_password, s.sentinel.password) == ("s-pass", "m-pass")
    assert s.redis_url == "redis+sentinel://sentinel-1:26379,10.0.0.7:26380,[::1]:26381/reports"
    assert "pass" not in repr(s) and "pass" not in s.redis_url


def test_without_sentinels_redis_url_names_one_server():
    s = load_settings({"REDIS_URL": "redis://cache:6379/2"})
    assert not s.sentinel.enabled and s.redis_url == "redis://cache:6379/2"


@pytest.mark.parametrize(("env", "message"), [
    ({"REDIS_SENTINELS": "sentinel-1"}, "REDIS_SENTINELS: 'sentinel-1' has no port"),
    ({"REDIS_SENTINELS": "sentinel-1:abc"}, "REDIS_SENTINELS: 'sentinel-1:abc' has a port that is not a number"),
    ({"REDIS_SENTINELS": "sentinel-1:70000"}, "REDIS_SENTINELS: 'sentinel-1:70000' has a port that is not"),
    ({"REDIS_SENTINELS": ":26379"}, "REDIS_SENTINELS: ':26379' does not start with a host"),
    ({"REDIS_SENTINELS": "http://s:26379"}, "REDIS_SENTINELS: 'http://s:26379' does not start with a host"),
    ({"REDIS_SENTINELS": "[::1:26379"}, "REDIS_SENTINELS: '[::1:26379' is not host:port"),
    ({"REDIS_SENTINELS": "s1:26379,,s2:26379"}, "REDIS_SENTINELS='s1:26379,,s2:26379' has an empty entry"),
    ({"REDIS_SENTINELS": "s1:26379,s1:26379"}, "REDIS_SENTINELS lists s1:26379 twice"),
    ({"REDIS_SENTINEL_MASTER": ""}, "REDIS_SENTINELS is set but REDIS_SENTINEL_MASTER is not"),
    ({"REDIS_SENTINEL_MASTER": "my master"}, "REDIS_SENTINEL_MASTER='my master' must be a Sentinel master name"),
    ({"REDIS_URL": "redis://cache:6379/0"}, "REDIS_URL is set as well as REDIS_SENTINELS"),
    ({"REDIS_HOST": "cache"}, "REDIS_HOST is set as well as REDIS_SENTINELS"),
    ({"REDIS_DB": "x"}, "REDIS_DB='x' is not a whole number"),
])
def test_a_bad_sentinel_setting_is_refused_naming_it(env, message):
    with pytest.raises(ConfigError) as refused:
        load_settings({**SENTINELS, **env})
    assert any(line.startswith(message) for line in str(refused.value).splitlines()), str(refused.value)


def test_every_bad_sentinel_value_gets_its_own_line():
    with pytest.raises(ConfigError) as refused:
        load_settings({"REDIS_SENTINELS": "s1,s2:x", "REDIS_SENTINEL_MASTER": "a/b", "REDIS_URL": "redis://c/0"})
    lines = str(refused.value).splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["REDIS_SENTINELS:", "REDIS_SENTINELS:",
                                                         "REDIS_SENTINEL_MASTER='a/b'", "REDIS_URL"]


@pytest.mark.parametrize("name", ["REDIS_SENTINEL_MASTER", "REDIS_SENTINEL_PASSWORD"])
def test_a_sentinel_setting_without_sentinels_is_refused(name):
    with pytest.raises(ConfigError, match=f"^{name} is set but REDIS_SENTINELS is not"):
        load_settings({name: "x"})


def test_the_broker_and_app_pool_ask_the_sentinels_with_the_same_timeouts():
    s = load_settings({**SENTINELS, "REDIS_SENTINEL_PASSWORD": "s-pass", "REDIS_PASSWORD": "m-pass",
                       "REDIS_DB": "3", "REDIS_SOCKET_TIMEOUT_SECONDS": "1.5"})
    pool = new_pool(RedisTarget.of(s))
    assert isinstance(pool, SentinelConnectionPool) and pool.service_name == "reports"
    kwargs = pool.connection_kwargs
    assert (kwargs["password"], kwargs["db"], kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (
        "m-pass", 3, 1.5, 1.5)
    assert kwargs["retry"].get_retries() == 0  # never a silent re-send of an enqueue to the new master
    sentinels = pool.sentinel_manager.sentinels
    assert [c.connection_pool.connection_kwargs["port"] for c in sentinels] == [26379, 26380, 26381]
    assert all(c.connection_pool.connection_kwargs["password"] == "s-pass"
               and c.connection_pool.connection_kwargs["socket_timeout"] == 1.5 for c in sentinels)


def test_the_rate_limiter_reaches_the_master_through_the_sentinels():
    s = load_settings({**SENTINELS, "REDIS_PASSWORD": "m-pass"})
    uri, options = limiter_storage(s)
    assert uri == s.redis_url and uri.startswith("redis+sentinel://")
    # The sentinels get their own (here: no) password, not the master's; counters are read from the master.
    assert options["sentinel_kwargs"]["password"] is None and options["password"] == "m-pass"
    assert options["use_replicas"] is False and options["retry"].get_retries() == 0
    limits = RateLimits()  # what web/auth.py builds from limiter_storage(settings)
    limits.init_app(Flask(__name__), storage_uri=uri, options=options, enabled=lambda: True)
    storage = limits.storage
    assert isinstance(storage, RedisSentinelStorage) and storage.service_name == "reports"
    assert [c.connection_pool.connection_kwargs["port"] for c in storage.sentinel.sentinels] == [26379, 26380, 26381]
    assert storage.use_replicas is False
    assert storage.storage.connection_pool.connection_kwargs["password"] == "m-pass"


def test_make_run_embeds_no_redis_when_sentinels_are_configured():
    plan = make_plan({**SENTINELS, "DATABASE_URL": "postgresql://u@db/x"})
    assert not plan.embedded_redis and "REDIS_URL" not in plan.env_overrides


@pytest.mark.parametrize("entry", ["import app", "import reportsvc.tasks"])
def test_web_and_worker_stop_with_one_prefixed_line_per_bad_sentinel_value(entry):
    result = subprocess.run([sys.executable, "-c", entry], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "REDIS_SENTINELS": "s1,s2:x", "REDIS_SENTINEL_MASTER": "m"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "reportsvc: configuration error: REDIS_SENTINELS: 's1' has no port (host:port; Sentinel listens on 26379 "
        "unless told otherwise)",
        "reportsvc: configuration error: REDIS_SENTINELS: 's2:x' has a port that is not a number in 1..65535"]
