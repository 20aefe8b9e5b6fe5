"""reportsvc: background PDF reports with an operator console beside the queue."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from flask import Flask

from reportsvc.config import VERSION, Settings, load_settings, use_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
__version__ = VERSION


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app: a flat list of init_app calls."""
    settings = settings or load_settings()
    use_settings(settings)
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    app.config.from_mapping(_flask_config(settings))
    app.extensions["reportsvc.settings"] = settings

    from reportsvc import cli, logs, redis_client, reports
    from reportsvc.extensions import csrf, db, login_manager, mail, migrate
    from reportsvc.state.pool import ping_after_idle
    from reportsvc.web import init_app as init_web
    from reportsvc.worker import context
    from reportsvc.worker.broker import setup_broker

    logs.init_app(app)
    reports.discover()  # installed report types; two with one name stop start-up here (ReportTypeConflict)
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            ping_after_idle(engine, settings.hotpath.db_ping_idle_seconds)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    mail.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    redis_client.configure(settings)
    setup_broker(settings)
    context.set_app(app)
    init_web(app)
    cli.init_app(app)
    return app


def _flask_config(settings: Settings) -> dict[str, object]:
    return {
        "SECRET_KEY": settings.secret_key,
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": settings.sqlalchemy_options(),
        "MAX_CONTENT_LENGTH": settings.max_content_length,
        "MAIL_SERVER": settings.email_host or "localhost",
        "MAIL_PORT": settings.email_port,
        "MAIL_USERNAME": settings.email_user,
        "MAIL_PASSWORD": settings.email_pass,
        "MAIL_USE_TLS": settings.email_use_tls,
        "MAIL_USE_SSL": settings.email_use_ssl,
        "MAIL_DEFAULT_SENDER": settings.email_from,
        "MAIL_SUPPRESS_SEND": False,
        "JSON_SORT_KEYS": False,
        # Access control (issue 6): the session cookie, CSRF (checked by the policy in web/access.py,
        # not by Flask-WTF's blanket hook, so bearer-token API calls are exempt); rate limits are web/limits.py's.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.cookie_secure,
        "SESSION_COOKIE_NAME": "reportsvc_session",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=settings.session_lifetime_hours),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": settings.cookie_secure,
        # Always on, deliberately not a setting: no deployment should run without it (tests switch it off
        # on app.config).
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_CHECK_DEFAULT": False,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": True,
    }
