"""The web layer: JSON API, health probes and the HTML console."""

from __future__ import annotations

from flask import Flask, redirect


def init_app(app: Flask) -> None:
    """Register blueprints and error handlers."""
    from . import api, errors, health

    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)

    @app.get("/")
    def index():  # type: ignore[no-untyped-def]
        return redirect("/console/")
