"""Dramatiq actors. `dramatiq reportsvc.tasks` imports this to run a worker.

The broker is configured from the environment before the actor modules are
imported, because actors bind to the global broker when declared.
"""

from ..broker import setup_broker
from ..config import get_settings

setup_broker(get_settings())

from .generate import generate_report  # noqa: E402
from .maintenance import run_bulk_job  # noqa: E402
from .notify import send_report_email  # noqa: E402

__all__ = ["generate_report", "run_bulk_job", "send_report_email"]
