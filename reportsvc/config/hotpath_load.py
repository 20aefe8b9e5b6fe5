"""`load_hotpath`: the hot-path settings read from the environment."""

from __future__ import annotations

from collections.abc import Mapping

from reportsvc.config.env import decimal, flag, whole
from reportsvc.config.hotpath import HotPathSettings
from reportsvc.config.settings import ConfigError


def choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    """One of `allowed` (case-insensitive) from `name`, or `default` when unset or empty."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw not in allowed:
        raise ConfigError(f"{name}={env.get(name)!r} is not one of {', '.join(allowed)}")
    return raw


def load_hotpath(env: Mapping[str, str]) -> HotPathSettings:
    """Read and validate the hot-path settings; raises ConfigError naming the bad variable."""
    return HotPathSettings(
        db_ping_idle_seconds=decimal(env, "DB_PING_IDLE_SECONDS", 1.0, 0, 3600),
        worker_log_queue=flag(env, "WORKER_LOG_QUEUE", True),
        worker_heartbeat_shared=flag(env, "WORKER_HEARTBEAT_SHARED", True),
        email_inline=flag(env, "EMAIL_INLINE", True),
        worker_metrics_buffered=flag(env, "WORKER_METRICS_BUFFERED", True),
        worker_direct_sql=flag(env, "WORKER_DIRECT_SQL", True),
        live_update_batch_ms=whole(env, "LIVE_UPDATE_BATCH_MS", 50, 0, 1000),
        report_log_batch_ms=whole(env, "REPORT_LOG_BATCH_MS", 20, 0, 1000),
        worker_log_lines=choice(env, "WORKER_LOG_LINES", "summary", ("summary", "verbose")),
        create_log_line=flag(env, "CREATE_LOG_LINE", False),
        email_keepalive_seconds=decimal(env, "EMAIL_KEEPALIVE_SECONDS", 30.0, 0, 3600),
        email_timeout_seconds=decimal(env, "EMAIL_TIMEOUT_SECONDS", 30.0, 0, 3600),
        worker_fetch_batch=whole(env, "WORKER_FETCH_BATCH", 8, 1, 10_000),
        worker_idle_poll_ms=whole(env, "WORKER_IDLE_POLL_MS", 100, 10, 5_000),
        create_fast_path=flag(env, "CREATE_FAST_PATH", True),
    )
