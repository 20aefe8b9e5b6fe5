"""`load_hotpath`: the hot-path settings read from the environment."""

from __future__ import annotations

from collections.abc import Mapping

from reportsvc.config.env import decimal, flag
from reportsvc.config.hotpath import HotPathSettings


def load_hotpath(env: Mapping[str, str]) -> HotPathSettings:
    """Read and validate the hot-path settings; raises ConfigError naming the bad variable."""
    return HotPathSettings(
        db_ping_idle_seconds=decimal(env, "DB_PING_IDLE_SECONDS", 1.0, 0, 3600),
        worker_log_queue=flag(env, "WORKER_LOG_QUEUE", True),
        worker_heartbeat_shared=flag(env, "WORKER_HEARTBEAT_SHARED", True),
        email_inline=flag(env, "EMAIL_INLINE", True),
    )
