"""Dramatiq actors. `dramatiq reportsvc.tasks` imports this to run a worker.

The broker is configured from the environment before the actor modules are
imported, because actors bind to the global broker when declared.
"""

from ..broker import setup_broker
from ..config import get_settings

_settings = get_settings()
setup_broker(
    _settings.redis_url,
    retry_schedule_ms=_settings.retry_delays_ms,
    max_retries=_settings.report_max_retries,
    time_limit_ms=_settings.report_time_limit_seconds * 1000,
)

from .generate import generate_report  # noqa: E402
from .notify import send_report_email  # noqa: E402

__all__ = ["generate_report", "send_report_email"]
