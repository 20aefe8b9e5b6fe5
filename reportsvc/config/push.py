"""Settings of what the service pushes out (issue 18): completion webhooks, alerts and the console's event stream.

Kept in their own frozen dataclass (read by `reportsvc.config.push_load`), so the main Settings grows by one
field only. Imports nothing from the config package: settings.py imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PushSettings:
    """Webhooks, alert rules and the console's server-sent events."""

    #: WEBHOOK_SECRET: the HMAC-SHA256 key of X-Reportsvc-Signature; None refuses callback_url.
    webhook_secret: str | None = field(default=None, repr=False)
    #: WEBHOOK_ALLOW_PRIVATE: let webhooks reach loopback/private/link-local addresses (tests, one-host setups).
    webhook_allow_private: bool = False
    #: WEBHOOK_TIMEOUT_SECONDS: connect plus read, per attempt.
    webhook_timeout_seconds: float = 10.0
    #: ALERT_EMAILS: comma-separated recipients of alert emails.
    alert_emails: tuple[str, ...] = ()
    #: ALERT_WEBHOOK_URL: where alert notifications are POSTed (signed like completion webhooks).
    alert_webhook_url: str | None = None
    #: ALERT_INTERVAL_SECONDS: how often the scheduler evaluates the rules.
    alert_interval_seconds: float = 5.0
    #: ALERT_COOLDOWN_SECONDS: a rule that resolved does not notify again for this long.
    alert_cooldown_seconds: float = 300.0
    #: ALERT_DEAD_LETTERS: fire when a queue holds more dead letters than this.
    alert_dead_letters: int = 0
    #: ALERT_NO_WORKER_SECONDS: fire when work waits and no worker was alive for this long.
    alert_no_worker_seconds: float = 60.0
    #: ALERT_OLDEST_WAITING_SECONDS: fire when a queue's oldest waiting message is older than this.
    alert_oldest_waiting_seconds: float = 600.0
    #: ALERT_FAILURE_RATIO and ALERT_FAILURE_WINDOW_SECONDS: fire when that share of the reports finished in
    #: the window failed (at least ALERT_FAILURE_MIN_COUNT finished, so one failure of one is not an incident).
    alert_failure_ratio: float = 0.5
    alert_failure_window_seconds: float = 900.0
    alert_failure_min_count: int = 5
    #: ALERT_SCHEDULER_SECONDS: fire when no scheduler has been seen for this long.
    alert_scheduler_seconds: float = 60.0
    #: SSE_MAX_SECONDS: a console event stream ends after this long (the browser reconnects).
    sse_max_seconds: float = 300.0
    #: SSE_KEEPALIVE_SECONDS: a comment line on an idle stream this often.
    sse_keepalive_seconds: float = 15.0
    #: SSE_ENABLED: pages open the event stream (0: they only poll).
    sse_enabled: bool = True
    #: CONSOLE_POLL_SECONDS: how often console pages poll while no event stream is open (the fallback).
    console_poll_seconds: float = 1.0

