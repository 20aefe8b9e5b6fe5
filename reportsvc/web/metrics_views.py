"""GET /metrics: Prometheus text format (see reportsvc.metrics for what and why)."""

from __future__ import annotations

from flask import Blueprint, Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST

from reportsvc import metrics

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    """Counters from Redis (exact across every process and host), gauges cached for a second or two."""
    return Response(metrics.render_latest(), mimetype=None, content_type=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    """Count committed lifecycle events in this process, serve /metrics and the console dashboard."""
    from reportsvc.web import dashboard

    metrics.configure(app.extensions["reportsvc.settings"])
    metrics.install()
    app.register_blueprint(bp)
    app.register_blueprint(dashboard.bp)
