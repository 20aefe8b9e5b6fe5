"""The HTML console's blueprint ("console", /console) and the layout context every console page uses.

Layout helpers live here because every console page (including the queue, worker and audit pages that
extend templates/console/base.html) needs them. The report routes (console_reports.py) register on this
`bp`: web/__init__.py imports them before it registers the blueprint, so this module need not import them
back (no import circle). The styled error pages are in errors.py.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Blueprint, current_app, request
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from reportsvc.config import VERSION as __version__
from reportsvc.web.errors import console_http_error

bp = Blueprint("console", __name__, url_prefix="/console")

NAV = (
    ("/console/", "Reports"),
    ("/console/schedules", "Schedules"),
    ("/console/queues", "Queues"),
    ("/console/workers", "Workers"),
    ("/console/audit", "Audit"),
    ("/console/alerts", "Alerts"),
    ("/console/dashboard", "Dashboard"),
)
#: Shown after NAV to admins only (the pages refuse everyone else anyway; see access.ADMIN_BLUEPRINTS).
ADMIN_NAV = (("/console/users", "Users"),)

#: Footer health is shown on every page; a short cache keeps it off the request path under polling.
HEALTH_TTL_SECONDS = 2.0
#: A consuming worker touches the heartbeat ZSET at least once a second (its delay-queue fetch loop);
#: a web or scheduler process only when it enqueues. Counting beats younger than this counts workers.
WORKER_FRESH_SECONDS = 5.0

_health_lock = threading.Lock()
_health_cache: dict[str, Any] = {"at": 0.0, "value": None}


def footer_health() -> dict[str, Any]:
    """Database / Redis state and the number of live workers, cached for HEALTH_TTL_SECONDS."""
    now = time.monotonic()
    with _health_lock:
        if _health_cache["value"] is not None and now - _health_cache["at"] < HEALTH_TTL_SECONDS:
            return dict(_health_cache["value"])
    value = _compute_health()
    with _health_lock:
        _health_cache.update(at=time.monotonic(), value=value)
    return dict(value)


def _compute_health() -> dict[str, Any]:
    from reportsvc.queues.workers import list_workers
    from reportsvc.redis_client import get_redis
    from reportsvc.web.health import dependency_status

    try:
        checks = dependency_status()
    except Exception as exc:  # the footer must render even on the 500 page
        checks = {"database": f"down: {type(exc).__name__}", "redis": "unknown"}
    workers: int | None = None
    if checks.get("redis") == "ok":
        try:
            seen = list_workers(get_redis(), limit=200)
            workers = sum(1 for w in seen if w.alive and w.age_s <= WORKER_FRESH_SECONDS)
        except Exception:
            workers = None
    return {"database": checks.get("database", "unknown"), "redis": checks.get("redis", "unknown"), "workers": workers}


def reset_health_cache() -> None:
    """Forget the cached footer health (tests)."""
    with _health_lock:
        _health_cache.update(at=0.0, value=None)


def hx_headers() -> dict[str, str]:
    """Headers every HTMX request sends (base.html puts them on <body>): the session's CSRF token."""
    from flask_wtf.csrf import generate_csrf

    return {"X-CSRFToken": generate_csrf()}


def csrf_field() -> Markup:
    """Hidden CSRF input for plain (no-JS) POST forms."""
    from flask_wtf.csrf import generate_csrf

    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(generate_csrf())


def nav_active(href: str) -> bool:
    """Is the nav entry `href` the current section?"""
    path = request.path
    if href == "/console/":
        return path == "/console/" or path.startswith("/console/reports")
    return path == href or path.startswith(href.rstrip("/") + "/")


@bp.app_context_processor
def layout_context() -> dict[str, Any]:
    """Names base.html uses; functions, so fragments that never render the layout pay nothing."""
    settings = current_app.extensions.get("reportsvc.settings")
    return {
        "console_nav": NAV,
        "console_admin_nav": ADMIN_NAV,
        "console_nav_active": nav_active,
        "console_version": __version__,
        "console_environment": getattr(settings, "environment", "development"),
        "console_footer_health": footer_health,
        "console_hx_headers": hx_headers,
        "csrf_field": csrf_field,
    }


@bp.errorhandler(HTTPException)
def _console_http_error(err: HTTPException) -> Any:
    return console_http_error(err)
