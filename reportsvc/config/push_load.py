"""`load_push`: the push settings (webhooks, alerts, event stream) read from the environment."""

from __future__ import annotations

from collections.abc import Mapping

from reportsvc.config.env import decimal, flag, whole
from reportsvc.config.push import PushSettings
from reportsvc.config.settings import ConfigError


def _emails(raw: str) -> tuple[str, ...]:
    out = tuple(part.strip() for part in raw.split(",") if part.strip())
    for address in out:
        if "@" not in address or any(ch.isspace() for ch in address):
            raise ConfigError(f"ALERT_EMAILS: {address!r} is not an email address")
    return out


def load_push(env: Mapping[str, str]) -> PushSettings:
    """Read and validate the push settings; raises ConfigError naming the bad variable."""
    secret = env.get("WEBHOOK_SECRET") or None
    if secret is not None and len(secret) < 16:
        raise ConfigError("WEBHOOK_SECRET must be at least 16 characters")
    alert_url = env.get("ALERT_WEBHOOK_URL") or None
    if alert_url is not None and not alert_url.startswith(("http://", "https://")):
        raise ConfigError(f"ALERT_WEBHOOK_URL={alert_url!r} must start with http:// or https://")
    if alert_url is not None and secret is None:
        raise ConfigError("ALERT_WEBHOOK_URL needs WEBHOOK_SECRET (alert webhooks are signed)")
    return PushSettings(
        webhook_secret=secret,
        webhook_allow_private=flag(env, "WEBHOOK_ALLOW_PRIVATE", False),
        webhook_timeout_seconds=decimal(env, "WEBHOOK_TIMEOUT_SECONDS", 10.0, 0.1, 60),
        alert_emails=_emails(env.get("ALERT_EMAILS", "")),
        alert_webhook_url=alert_url,
        alert_interval_seconds=decimal(env, "ALERT_INTERVAL_SECONDS", 5.0, 0.1, 3600),
        alert_cooldown_seconds=decimal(env, "ALERT_COOLDOWN_SECONDS", 300.0, 0, 86400),
        alert_dead_letters=whole(env, "ALERT_DEAD_LETTERS", 0, 0, 10**9),
        alert_no_worker_seconds=decimal(env, "ALERT_NO_WORKER_SECONDS", 60.0, 0, 86400),
        alert_oldest_waiting_seconds=decimal(env, "ALERT_OLDEST_WAITING_SECONDS", 600.0, 0, 7 * 86400),
        alert_failure_ratio=decimal(env, "ALERT_FAILURE_RATIO", 0.5, 0, 1),
        alert_failure_window_seconds=decimal(env, "ALERT_FAILURE_WINDOW_SECONDS", 900.0, 1, 7 * 86400),
        alert_failure_min_count=whole(env, "ALERT_FAILURE_MIN_COUNT", 5, 1, 10**6),
        alert_scheduler_seconds=decimal(env, "ALERT_SCHEDULER_SECONDS", 60.0, 1, 86400),
        sse_max_seconds=decimal(env, "SSE_MAX_SECONDS", 300.0, 1, 86400),
        sse_keepalive_seconds=decimal(env, "SSE_KEEPALIVE_SECONDS", 15.0, 0.1, 3600),
        sse_enabled=flag(env, "SSE_ENABLED", True),
        console_poll_seconds=decimal(env, "CONSOLE_POLL_SECONDS", 1.0, 0.2, 86400),
    )
