"""The console's Alerts page (state of every rule, history) and the banner every console page shows while one fires."""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Blueprint, render_template

from reportsvc.ops.alert_rules import RULE_NAMES
from reportsvc.state import alerts

bp = Blueprint("console_alerts", __name__, url_prefix="/console")

#: The banner is on every page: a short cache keeps its query off the request path under polling.
BANNER_TTL_SECONDS = 2.0
_banner_lock = threading.Lock()
_banner_cache: dict[str, Any] = {"at": 0.0, "value": []}


def firing_alerts(fresh: bool = False) -> list[dict[str, Any]]:
    """The rules firing now (rule, message, since), cached for BANNER_TTL_SECONDS; [] when the database is down."""
    with _banner_lock:
        if not fresh and time.monotonic() - _banner_cache["at"] < BANNER_TTL_SECONDS:
            return list(_banner_cache["value"])
    try:
        value = [{"rule": s.rule, "message": s.message, "since": s.fired_at} for s in alerts.firing()]
    except Exception:  # the banner must never take a page down (the 500 page renders it too)
        value = []
    finally:
        from reportsvc.extensions import db

        db.session.rollback()
    with _banner_lock:
        _banner_cache.update(at=time.monotonic(), value=value)
    return list(value)


def reset_banner_cache() -> None:
    """Forget the cached banner (tests, and a pushed alert event)."""
    with _banner_lock:
        _banner_cache.update(at=0.0, value=[])


@bp.app_context_processor
def banner_context() -> dict[str, Any]:
    """`console_alerts_firing()` for base.html's banner."""
    return {"console_alerts_firing": firing_alerts}


@bp.get("/alerts")
def alerts_page() -> str:
    """Every rule's state and the newest firings and resolutions."""
    by_rule = {s.rule: s for s in alerts.states()}
    rows = [{"rule": name, "state": by_rule.get(name)} for name in RULE_NAMES]
    return render_template("console/alerts/index.html", rules=rows, events=alerts.history())


@bp.get("/alerts/banner")
def banner() -> str:
    """The banner fragment (polled, and swapped by pushed alert events: so read fresh, not from the cache)."""
    firing_alerts(fresh=True)
    return render_template("console/alerts/_banner.html")
