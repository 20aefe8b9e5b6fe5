"""`load_guard`: the hardening settings (issue 15) read from the environment."""

from __future__ import annotations

import re
from collections.abc import Mapping

from reportsvc.config.env import decimal, flag, rate_limit, whole
from reportsvc.config.guard import GuardSettings
from reportsvc.config.settings import ConfigError

_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$")


def _domains(raw: str) -> tuple[str, ...]:
    out = tuple(part.strip().lower().lstrip("@") for part in raw.split(",") if part.strip())
    for domain in out:
        if not _DOMAIN.match(domain):
            raise ConfigError(f"NOTIFY_EMAIL_DOMAINS: {domain!r} is not a domain name (example: example.com)")
    return out


def load_guard(env: Mapping[str, str]) -> GuardSettings:
    """Read and validate the hardening settings; raises ConfigError naming the bad variable."""
    environment = (env.get("REPORTSVC_ENV") or "").strip().lower()
    if flag(env, "REPORTSVC_FAULT_INJECTION", False) and environment in ("production", "prod"):
        # Fault injection lets any operator make reports fail on purpose: never where real users are.
        raise ConfigError("REPORTSVC_FAULT_INJECTION=1 is refused with REPORTSVC_ENV=production; unset "
                          "REPORTSVC_FAULT_INJECTION (or run it in another environment)")
    return GuardSettings(
        trusted_proxy_count=whole(env, "TRUSTED_PROXY_COUNT", 0, 0, 10),
        login_slowdown_threshold=whole(env, "LOGIN_SLOWDOWN_THRESHOLD", 50, 1, 1_000_000),
        login_slowdown_seconds=decimal(env, "LOGIN_SLOWDOWN_SECONDS", 2.0, 0, 30),
        notify_email_domains=_domains(env.get("NOTIFY_EMAIL_DOMAINS", "")),
        notify_recipients_per_hour=whole(env, "NOTIFY_EMAIL_RECIPIENTS_PER_HOUR", 20, 0, 100_000),
        rate_limit_operator_actions=rate_limit(env, "RATE_LIMIT_OPERATOR_ACTIONS", "30/minute;300/hour"),
    )
