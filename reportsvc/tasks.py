"""Worker entry point: `dramatiq reportsvc.tasks` imports this module to run a worker.

Wiring only: the broker is configured from the environment before the actor modules are imported
(actors bind to the global broker when declared), and the actors get the app factory they build their
Flask app with on first use.
"""

import sys

from reportsvc import create_app, reports
from reportsvc.config import ConfigError, get_settings
from reportsvc.state.storage import StorageUnavailable, check_storage
from reportsvc.worker import context
from reportsvc.worker.broker import setup_broker

try:
    setup_broker(get_settings())
except ConfigError as exc:  # the same lines as `flask` and gunicorn print, not a traceback
    sys.exit(exc.report("reportsvc: configuration error: "))
reports.discover()  # at worker start, not on the first message: a type conflict stops the worker at once
try:
    check_storage(get_settings())
except StorageUnavailable as exc:  # a bad bucket stops the worker at start-up, not at its first report
    sys.exit(f"reportsvc: report storage unusable: {exc}")
context.set_factory(create_app)

from reportsvc.worker.generate import generate_report  # noqa: E402
from reportsvc.worker.maintenance import run_bulk_job  # noqa: E402
from reportsvc.worker.notify import send_report_email  # noqa: E402
from reportsvc.worker.webhooks import send_report_webhook  # noqa: E402

__all__ = ["generate_report", "run_bulk_job", "send_report_email", "send_report_webhook"]
