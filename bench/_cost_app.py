"""`gunicorn bench._cost_app:app`: the product's web app (app:app) plus the one-page bench type."""

from app import app
from bench import _page_type

_page_type.register()

__all__ = ["app"]
