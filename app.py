"""WSGI entry point: `flask --app app run`, `gunicorn app:app`."""
import sys

from reportsvc import create_app
from reportsvc.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # a clear message at start-up instead of a traceback mid-request
    sys.exit(f"reportsvc: configuration error: {exc}")
