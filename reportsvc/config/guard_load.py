"""`load_guard`: the hardening settings (issue 15) read from the environment."""

from __future__ import annotations

from collections.abc import Mapping

from reportsvc.config.env import decimal, whole
from reportsvc.config.guard import GuardSettings


def load_guard(env: Mapping[str, str]) -> GuardSettings:
    """Read and validate the hardening settings; raises ConfigError naming the bad variable."""
    return GuardSettings(
        trusted_proxy_count=whole(env, "TRUSTED_PROXY_COUNT", 0, 0, 10),
        login_slowdown_threshold=whole(env, "LOGIN_SLOWDOWN_THRESHOLD", 50, 1, 1_000_000),
        login_slowdown_seconds=decimal(env, "LOGIN_SLOWDOWN_SECONDS", 2.0, 0, 30),
    )
