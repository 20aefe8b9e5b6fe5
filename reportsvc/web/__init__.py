"""The web layer: JSON API, health probes and the HTML console."""

from __future__ import annotations

from flask import Flask, redirect


def init_app(app: Flask) -> None:
    """Register blueprints and error handlers."""
    from reportsvc.web import (
        accounts_api,
        api,
        auth,
        body_drain,
        console,
        console_alerts,
        console_events,
        console_format,
        console_logs,  # noqa: F401  (the Logs tab's route registers on console.bp, like console_reports)
        console_queues,
        console_reports,  # noqa: F401  (its routes register on console.bp, so it is imported before that)
        console_schedules,
        console_users,
        errors,
        fast_create,
        health,
        login,
        metrics_views,
        openapi,
        queues_api,
        report_types_api,
        schedules_api,
    )

    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(report_types_api.bp)
    app.register_blueprint(queues_api.bp)
    app.register_blueprint(schedules_api.bp)
    app.register_blueprint(console_schedules.bp)
    console_format.init_app(app)
    app.register_blueprint(console.bp)
    app.register_blueprint(console_queues.bp)
    app.register_blueprint(console_users.bp)
    app.register_blueprint(console_alerts.bp)
    app.register_blueprint(console_events.bp)
    metrics_views.init_app(app)
    app.register_blueprint(login.bp)
    app.register_blueprint(accounts_api.bp)
    openapi.init_app(app)
    auth.init_app(app)  # access policy for every route above and any added later, headers, limits
    body_drain.init_app(app)
    fast_create.init_app(app)  # after auth: its hand-off wraps the rate-limited create view

    @app.get("/")
    def index():  # type: ignore[no-untyped-def]
        return redirect("/console/")
