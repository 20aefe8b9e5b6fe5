"""Flask CLI commands (flask --app app ...)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the project's CLI commands."""
