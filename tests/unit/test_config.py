"""Settings from the environment, with clear errors for bad values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reportsvc.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_use_the_embedded_engines():
    s = load_settings({})
    assert s.database_url == "postgresql+psycopg://postgres@127.0.0.1:54329/reportsvc"
    assert s.redis_url == "redis://127.0.0.1:63799/0"
    assert s.app_port == 3000 and s.app_base_url == "http://localhost:3000"
    assert s.retry_delays_ms == (2000, 4000, 8000) and s.report_time_limit_seconds == 300


def test_seed_variable_names_build_the_urls():
    s = load_settings({"DB_HOST": "db", "DB_PORT": "5433", "DB_NAME": "r", "DB_USER": "u", "DB_PASSWORD": "p@ss",
                       "REDIS_HOST": "cache", "REDIS_PORT": "6380", "APP_PORT": "8080"})
    assert s.database_url == "postgresql+psycopg://u:p%40ss@db:5433/r"
    assert s.redis_url == "redis://cache:6380/0"
    assert s.app_base_url == "http://localhost:8080"


def test_database_url_forms_are_normalised():
    assert load_settings({"DATABASE_URL": "postgres://x@h/d"}).database_url == "postgresql+psycopg://x@h/d"
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings({"DATABASE_URL": "mysql://x@h/d"})


@pytest.mark.parametrize(("name", "value"), [("APP_PORT", "abc"), ("APP_PORT", "70000"), ("DB_PORT", "x"),
                                             ("REPORTSVC_FAULT_INJECTION", "maybe"), ("LOG_FORMAT", "xml"),
                                             ("APP_BASE_URL", "ftp://x"), ("REPORT_RETRY_DELAYS_MS", "1,a")])
def test_invalid_values_name_the_variable(name, value):
    env = {name: value, "DB_HOST": "db"} if name == "DB_PORT" else {name: value}
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert name in str(info.value)


def test_app_exits_with_a_clear_message_on_bad_config():
    result = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, capture_output=True, text=True,
                            env={"APP_PORT": "nope", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode != 0
    assert "configuration error: APP_PORT='nope' is not a whole number" in result.stderr
    assert "Traceback" not in result.stderr


def test_heartbeat_must_beat_at_least_twice_per_lock():
    with pytest.raises(ConfigError, match="HEARTBEAT_INTERVAL_SECONDS"):
        load_settings({"REPORT_LOCK_SECONDS": "6", "HEARTBEAT_INTERVAL_SECONDS": "5"})
    assert load_settings({"REPORT_LOCK_SECONDS": "10", "HEARTBEAT_INTERVAL_SECONDS": "5"}).report_lock_seconds == 10
