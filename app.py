"""WSGI entry point: `flask --app app run`, `gunicorn app:app`."""
import sys

from reportsvc import create_app
from reportsvc.config import ConfigError
from reportsvc.state.storage import StorageUnavailable, check_storage

try:
    app = create_app()
    check_storage(app.extensions["reportsvc.settings"])
except ConfigError as exc:  # a clear message at start-up instead of a traceback mid-request
    sys.exit(exc.report("reportsvc: configuration error: "))
except StorageUnavailable as exc:  # a bad bucket stops start-up, not the first download
    sys.exit(f"reportsvc: report storage unusable: {exc}")
