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


# -- the session signing key and other secrets ------------------------------------------------------------

STRONG_KEY = "k9Qv2LmX7pRt4WzA8cBn3HsJ6dFy1GeU5oTi0VaKqPwE"  # 44 random-looking characters


def test_without_secret_key_the_generated_per_host_key_is_used():
    assert load_settings({}).secret_key is None
    assert load_settings({"SECRET_KEY": ""}).secret_key is None  # an empty `SECRET_KEY=` line counts as unset


@pytest.mark.parametrize("key", [
    "change-me-in-production",  # what .env.example used to ship
    "change-me",  # what docker-compose.yml used to ship
    "dev-only-change-me",  # the old built-in default
    "CHANGE_ME_" + STRONG_KEY,  # long enough, still a placeholder
    "ChangeMe" + STRONG_KEY,
    "my-example-key-" + STRONG_KEY,
    "super-secret-" + STRONG_KEY,
    "replace-me-with-a-random-value-of-48-characters",
])
def test_a_placeholder_secret_key_stops_start_up(key):
    with pytest.raises(ConfigError) as info:
        load_settings({"SECRET_KEY": key})
    message = str(info.value)
    assert message.startswith("SECRET_KEY looks like a placeholder")
    assert "secrets.token_urlsafe(48)" in message  # says how to make a real one
    assert key not in message  # never echoes a secret


@pytest.mark.parametrize("key", ["x7Gq2", STRONG_KEY[:31]])
def test_a_short_secret_key_stops_start_up(key):
    with pytest.raises(ConfigError, match=r"^SECRET_KEY is \d+ characters long; it needs at least 32"):
        load_settings({"SECRET_KEY": key})


def test_a_repetitive_secret_key_stops_start_up():
    with pytest.raises(ConfigError, match="^SECRET_KEY repeats"):
        load_settings({"SECRET_KEY": "ab" * 20})


def test_strong_secret_keys_are_accepted():
    import secrets

    assert load_settings({"SECRET_KEY": STRONG_KEY[:32]}).secret_key == STRONG_KEY[:32]
    for _ in range(200):  # what the docs tell people to run, and Flask's own suggestion
        for key in (secrets.token_urlsafe(48), secrets.token_hex(32)):
            assert load_settings({"SECRET_KEY": key}).secret_key == key


def test_secrets_stay_out_of_the_settings_repr():
    shown = repr(load_settings({"SECRET_KEY": STRONG_KEY, "REPORTSVC_ADMIN_PASSWORD": "Tr0ub4dor&3-horse",
                                "EMAIL_PASS": "smtp-pass-123"}))
    assert STRONG_KEY not in shown and "Tr0ub4dor" not in shown and "smtp-pass-123" not in shown


@pytest.mark.parametrize("password", ["change-me-admin", "changeme", "admin-example-password"])
def test_a_placeholder_admin_password_stops_start_up(password):
    with pytest.raises(ConfigError, match="^REPORTSVC_ADMIN_PASSWORD looks like a placeholder"):
        load_settings({"REPORTSVC_ADMIN_PASSWORD": password})
    assert load_settings({"REPORTSVC_ADMIN_PASSWORD": "Tr0ub4dor&3-horse"}).admin_password == "Tr0ub4dor&3-horse"
    assert load_settings({}).admin_password is None


def test_app_exits_naming_secret_key_when_it_is_a_placeholder():
    result = subprocess.run([sys.executable, "-c", "import app"], cwd=ROOT, capture_output=True, text=True,
                            env={"SECRET_KEY": "change-me-in-production", "PATH": "/usr/bin:/bin"}, timeout=60)
    assert result.returncode != 0
    assert "configuration error: SECRET_KEY looks like a placeholder" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_example_starts_as_is():
    """`cp .env.example .env && make run` must work and must not set a shared, published key or password."""
    from dotenv import dotenv_values

    values = {k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()}
    assert "SECRET_KEY" not in values and "REPORTSVC_ADMIN_PASSWORD" not in values
    settings = load_settings(values)
    assert settings.secret_key is None and settings.admin_password is None


def test_docker_compose_requires_the_secrets_from_the_environment():
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in ("web", "worker", "scheduler", "migrate"):
        env = compose["services"][name]["environment"]
        # ${VAR:?message}: compose refuses to start while the variable is unset or empty.
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?"), name
    # Only the one-shot migrate service creates the first admin, so only it holds the password.
    assert compose["services"]["migrate"]["environment"]["REPORTSVC_ADMIN_PASSWORD"].startswith(
        "${REPORTSVC_ADMIN_PASSWORD:?")


def test_generated_key_is_kept_per_host_and_an_explicit_one_is_kept(tmp_path):
    from flask import Flask

    from reportsvc.web.auth import _ensure_secret_key

    first = Flask("one", instance_path=str(tmp_path))
    first.config["SECRET_KEY"] = None  # what create_app sets without SECRET_KEY
    _ensure_secret_key(first)
    key = first.config["SECRET_KEY"]
    assert len(key) >= 64 and (tmp_path / "secret_key").read_text().strip() == key
    second = Flask("two", instance_path=str(tmp_path))
    second.config["SECRET_KEY"] = None
    _ensure_secret_key(second)
    assert second.config["SECRET_KEY"] == key  # every process on the host signs alike
    explicit = Flask("three", instance_path=str(tmp_path / "other"))
    explicit.config["SECRET_KEY"] = STRONG_KEY
    _ensure_secret_key(explicit)
    assert explicit.config["SECRET_KEY"] == STRONG_KEY and not (tmp_path / "other").exists()


# -- other settings -------------------------------------------------------------------------------------------


def test_csrf_cannot_be_switched_off_from_the_environment():
    from reportsvc import _flask_config  # the app's Flask config, without building an app (global broker)

    assert _flask_config(load_settings({"CSRF_ENABLED": "0"}))["WTF_CSRF_ENABLED"] is True


def test_redis_parts_with_password_and_database():
    s = load_settings({"REDIS_HOST": "cache", "REDIS_PASSWORD": "p@ss word", "REDIS_DB": "3"})
    assert s.redis_url == "redis://:p%40ss%20word@cache:6379/3"
    with pytest.raises(ConfigError, match="REDIS_DB"):
        load_settings({"REDIS_HOST": "cache", "REDIS_DB": "three"})


def test_redis_socket_timeout():
    assert load_settings({}).redis_socket_timeout_seconds == 5.0
    assert load_settings({"REDIS_SOCKET_TIMEOUT_SECONDS": "1.5"}).redis_socket_timeout_seconds == 1.5
    for bad in ("0", "-1", "soon", "301"):
        with pytest.raises(ConfigError, match="REDIS_SOCKET_TIMEOUT_SECONDS"):
            load_settings({"REDIS_SOCKET_TIMEOUT_SECONDS": bad})
