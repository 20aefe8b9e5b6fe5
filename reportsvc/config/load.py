"""`load_settings`: the whole environment read into one validated Settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from reportsvc.config.env import (
    admin_password,
    database_url_from,
    decimal,
    flag,
    rate_limit,
    redis_url_from,
    secret_key,
    whole,
)
from reportsvc.config.guard_load import load_guard
from reportsvc.config.hotpath_load import load_hotpath
from reportsvc.config.push_load import load_push
from reportsvc.config.sentinel_env import sentinel_settings
from reportsvc.config.settings import MAX_RETENTION_DAYS, ConfigError, Settings
from reportsvc.config.storage_env import storage_settings


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate settings; raises ConfigError naming the bad variable."""
    env = os.environ if env is None else env
    app_port = whole(env, "APP_PORT", 3000, 1, 65535)
    base_url = env.get("APP_BASE_URL") or f"http://localhost:{app_port}"
    if not base_url.startswith(("http://", "https://")):
        raise ConfigError(f"APP_BASE_URL={base_url!r} must start with http:// or https://")
    delays_raw = env.get("REPORT_RETRY_DELAYS_MS", "2000,4000,8000")
    try:
        delays = tuple(int(part) for part in delays_raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"REPORT_RETRY_DELAYS_MS={delays_raw!r} must be comma-separated integers") from None
    max_retries = whole(env, "REPORT_MAX_RETRIES", 3, 0, 20)
    if len(delays) < max_retries:
        raise ConfigError("REPORT_RETRY_DELAYS_MS needs one delay per retry (REPORT_MAX_RETRIES)")
    log_format = env.get("LOG_FORMAT", "text")
    if log_format not in ("text", "json"):
        raise ConfigError("LOG_FORMAT must be text or json")
    email_from = env.get("EMAIL_FROM") or "reportsvc@localhost"
    lock = whole(env, "REPORT_LOCK_SECONDS", 60, 1, 86400)
    heartbeat = decimal(env, "HEARTBEAT_INTERVAL_SECONDS", 5.0, 0.1, 3600)
    if heartbeat * 2 > lock:
        # A claim must be refreshed at least twice per lock period, or healthy reports get swept as stalled.
        raise ConfigError(
            f"HEARTBEAT_INTERVAL_SECONDS={heartbeat:g} must be at most half of REPORT_LOCK_SECONDS={lock}"
        )
    pdf_days, report_days = _retention_days(env)
    sentinel = sentinel_settings(env)
    return Settings(
        database_url=database_url_from(env),
        redis_url=sentinel.url() if sentinel.enabled else redis_url_from(env),
        app_port=app_port,
        app_base_url=base_url.rstrip("/"),
        storage_dir=Path(env.get("STORAGE_DIR") or "instance/reports").resolve(),
        email_host=env.get("EMAIL_HOST") or None,
        email_port=whole(env, "EMAIL_PORT", 587, 1, 65535),
        email_user=env.get("EMAIL_USER") or None,
        email_pass=env.get("EMAIL_PASS") or None,
        email_from=email_from,
        email_use_tls=flag(env, "EMAIL_USE_TLS", False),
        email_use_ssl=flag(env, "EMAIL_USE_SSL", False),
        email_default_to=env.get("EMAIL_DEFAULT_TO") or None,
        report_time_limit_seconds=whole(env, "REPORT_TIME_LIMIT_SECONDS", 300, 1, 86400),
        report_max_retries=max_retries,
        report_lock_seconds=lock,
        heartbeat_interval_seconds=heartbeat,
        max_stalled_count=whole(env, "MAX_STALLED_COUNT", 2, 0, 100),
        stall_sweep_interval_seconds=decimal(env, "STALL_SWEEP_INTERVAL_SECONDS", 5.0, 0.1, 3600),
        reconcile_interval_seconds=decimal(env, "RECONCILE_INTERVAL_SECONDS", 30.0, 0.1, 86400),
        reconcile_grace_seconds=decimal(env, "RECONCILE_GRACE_SECONDS", 60.0, 0, 86400),
        retry_delays_ms=delays,
        email_max_retries=whole(env, "EMAIL_MAX_RETRIES", 8, 0, 50),
        fault_injection=flag(env, "REPORTSVC_FAULT_INJECTION", False),
        max_content_length=whole(env, "MAX_CONTENT_LENGTH", 64 * 1024, 1024, 100 * 1024 * 1024),
        secret_key=secret_key(env),
        environment=env.get("REPORTSVC_ENV", "development"),
        log_format=log_format,
        metrics_public=flag(env, "METRICS_PUBLIC", False),
        session_cookie_secure=(flag(env, "SESSION_COOKIE_SECURE", False)
                               if env.get("SESSION_COOKIE_SECURE") else None),
        session_lifetime_hours=whole(env, "SESSION_LIFETIME_HOURS", 12, 1, 24 * 90),
        rate_limit_report_create=rate_limit(env, "RATE_LIMIT_REPORT_CREATE", "60/minute;1000/hour"),
        rate_limit_login_ip=rate_limit(env, "RATE_LIMIT_LOGIN_IP", "20/minute"),
        rate_limit_login_account=rate_limit(env, "RATE_LIMIT_LOGIN_ACCOUNT", "10/minute"),
        rate_limit_enabled=flag(env, "RATE_LIMIT_ENABLED", True),
        rate_limit_reserve=whole(env, "RATE_LIMIT_RESERVE", 10, 1, 1000),
        token_cache_seconds=decimal(env, "TOKEN_CACHE_SECONDS", 5.0, 0, 300),
        login_lockout_threshold=whole(env, "LOGIN_LOCKOUT_THRESHOLD", 5, 1, 1000),
        login_lockout_seconds=whole(env, "LOGIN_LOCKOUT_SECONDS", 30, 1, 86400),
        login_lockout_max_seconds=whole(env, "LOGIN_LOCKOUT_MAX_SECONDS", 900, 1, 7 * 86400),
        admin_password=admin_password(env),
        redis_socket_timeout_seconds=decimal(env, "REDIS_SOCKET_TIMEOUT_SECONDS", 5.0, 0.1, 300),
        db_pool_size=whole(env, "DB_POOL_SIZE", 10, 1, 1000),
        db_max_overflow=whole(env, "DB_MAX_OVERFLOW", 20, 0, 1000),
        report_data_cache_seconds=decimal(env, "REPORT_DATA_CACHE_SECONDS", 5.0, 0, 3600),
        retention_pdf_days=pdf_days,
        retention_report_days=report_days,
        retention_audit_days=whole(env, "RETENTION_AUDIT_DAYS", 0, 0, MAX_RETENTION_DAYS),
        retention_interval_seconds=decimal(env, "RETENTION_INTERVAL_SECONDS", 3600.0, 1, 7 * 86400),
        push=load_push(env),
        guard=load_guard(env),
        hotpath=load_hotpath(env),
        report_source_database_url=_source_database_url(env),
        report_query_timeout_seconds=whole(env, "REPORT_QUERY_TIMEOUT_SECONDS", 60, 1, 86400),
        report_max_rows=whole(env, "REPORT_MAX_ROWS", 100_000, 1, 10_000_000),
        report_datasets_file=Path(env.get("REPORT_DATASETS_FILE") or "instance/datasets.toml").resolve(),
        schedule_poll_seconds=decimal(env, "SCHEDULE_POLL_SECONDS", 5.0, 0.1, 3600),
        schedule_batch_size=whole(env, "SCHEDULE_BATCH_SIZE", 50, 1, 10_000),
        schedule_misfire_grace_seconds=decimal(env, "SCHEDULE_MISFIRE_GRACE_SECONDS", 120.0, 0, 86400),
        report_log_lines=whole(env, "REPORT_LOG_LINES", 500, 0, 100_000),
        storage=storage_settings(env),
        sentinel=sentinel,
    )


def _source_database_url(env: Mapping[str, str]) -> str | None:
    """REPORT_SOURCE_DATABASE_URL with the psycopg driver named (as DATABASE_URL gets), or None."""
    raw = env.get("REPORT_SOURCE_DATABASE_URL") or None
    if raw is None:
        return None
    try:
        return database_url_from({"DATABASE_URL": raw})
    except ConfigError:
        raise ConfigError("REPORT_SOURCE_DATABASE_URL must be a postgresql:// URL") from None


def _retention_days(env: Mapping[str, str]) -> tuple[int, int]:
    """RETENTION_PDF_DAYS and RETENTION_REPORT_DAYS, checked against each other."""
    pdf_days = whole(env, "RETENTION_PDF_DAYS", 0, 0, MAX_RETENTION_DAYS)
    report_days = whole(env, "RETENTION_REPORT_DAYS", 0, 0, MAX_RETENTION_DAYS)
    if pdf_days and report_days and report_days < pdf_days:
        # Deleting a report deletes its PDF: a shorter report period would silently override the PDF one.
        raise ConfigError(f"RETENTION_REPORT_DAYS={report_days} must be at least RETENTION_PDF_DAYS={pdf_days} "
                          "(a deleted report takes its PDF with it); raise it or set it to 0 to keep reports")
    return pdf_days, report_days
