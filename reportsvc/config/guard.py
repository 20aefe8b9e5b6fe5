"""Settings of the hardening pass (issue 15): proxies, sign-in slow-down, sessions' absolute lifetime.

Kept in their own frozen dataclass (read by `reportsvc.config.guard_load`), so the main Settings grows by one field
only. Imports nothing from the config package: settings.py imports it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GuardSettings:
    """Who the client is behind proxies, and how sign-in resists guessing."""

    #: TRUSTED_PROXY_COUNT: reverse proxies in front of the app whose X-Forwarded-* headers are believed.
    trusted_proxy_count: int = 0
    #: LOGIN_SLOWDOWN_THRESHOLD: failed sign-ins on one account (from all addresses) after which every
    #: further attempt on it waits LOGIN_SLOWDOWN_SECONDS; never a lock, so nobody can lock the owner out.
    login_slowdown_threshold: int = 50
    login_slowdown_seconds: float = 2.0
    #: NOTIFY_EMAIL_DOMAINS: the domains notify_email may name (lower case); empty: any (a laptop's default).
    notify_email_domains: tuple[str, ...] = ()
    #: NOTIFY_EMAIL_RECIPIENTS_PER_HOUR: distinct notify_email addresses one account may use per hour; 0: no limit.
    notify_recipients_per_hour: int = 20
    #: RATE_LIMIT_OPERATOR_ACTIONS: per account, for the costly operator calls (dead-letter count, requeue and
    #: delete (bulk jobs), retries, releasing a message or a worker); "" switches it off.
    rate_limit_operator_actions: str = "30/minute;300/hour"
