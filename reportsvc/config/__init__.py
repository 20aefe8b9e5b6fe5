"""Settings read from the environment (seed names plus DATABASE_URL / REDIS_URL), and the process's active set.

`settings` holds the Settings dataclass, `env` reads one variable, `load` reads them all.
"""

from __future__ import annotations

from reportsvc.config.env import database_url_from, placeholder_marker, redis_url_from
from reportsvc.config.load import load_settings
from reportsvc.config.settings import (
    DEFAULT_EMBEDDED_DATABASE_URL,
    DEFAULT_EMBEDDED_REDIS_URL,
    MAX_RETENTION_DAYS,
    MIN_SECRET_KEY_LENGTH,
    VERSION,
    ConfigError,
    Settings,
)

__all__ = [
    "DEFAULT_EMBEDDED_DATABASE_URL", "DEFAULT_EMBEDDED_REDIS_URL", "MAX_RETENTION_DAYS", "MIN_SECRET_KEY_LENGTH",
    "VERSION", "ConfigError", "Settings", "database_url_from", "get_settings", "load_settings",
    "placeholder_marker", "redis_url_from", "use_settings",
]

_active: Settings | None = None


def use_settings(settings: Settings) -> None:
    """Make settings the process-wide active ones (create_app calls this)."""
    global _active
    _active = settings


def get_settings() -> Settings:
    """The active settings, loaded from the environment on first use."""
    global _active
    if _active is None:
        _active = load_settings()
    return _active
