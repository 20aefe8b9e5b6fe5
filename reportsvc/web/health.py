"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from reportsvc.extensions import db
from reportsvc.redis_client import get_redis
from reportsvc.state.storage import storage_for

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up."""
    return jsonify({"status": "ok"})


def dependency_status() -> dict[str, str]:
    """'ok' or the error for PostgreSQL, Redis and the report store."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        checks["database"] = "ok"
    except Exception as exc:
        db.session.rollback()
        checks["database"] = f"down: {type(exc).__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"down: {type(exc).__name__}"
    try:
        storage_for(current_app.extensions["reportsvc.settings"]).check()
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"down: {type(exc).__name__}"
    return checks


@bp.get("/readyz")
def readyz() -> Response:
    """200 when PostgreSQL, Redis and the report store answer, 503 naming what is down."""
    checks = dependency_status()
    down = [name for name, state in checks.items() if state != "ok"]
    response = jsonify({"status": "ok" if not down else "unavailable", "checks": checks, "down": down})
    response.status_code = 200 if not down else 503
    return response
