"""GET /openapi.json: the JSON API described as OpenAPI 3.0 (issue 6).

Written by hand next to the routes, one module per group of operations (health, reports, queues, accounts,
schedules; shared building blocks in helpers), and kept true by tests/integration/test_openapi.py, which
compares its paths and methods with `app.url_map` (every non-console route must be described, nothing else)
and runs schemathesis against the live app from this document.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, Flask, Response, jsonify

from reportsvc.config import VERSION as __version__
from reportsvc.web.openapi import accounts, health, helpers, queues, reports, schedules

bp = Blueprint("openapi", __name__)

#: Blueprints / endpoints that serve HTML (the console) or files, not the JSON API.
NON_API_BLUEPRINTS = frozenset({"console", "console_queues", "console_dashboard", "console_users", "console_alerts",
                                "console_schedules", "console_events"})
NON_API_ENDPOINTS = frozenset({"static", "index", "auth.login", "auth.logout", "auth.logout_everywhere"})

_GROUPS = (health, reports, queues, accounts, schedules)


def build_spec() -> dict[str, Any]:
    """The OpenAPI document (a fresh dict each call)."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = dict(helpers.SCHEMAS)
    for group in _GROUPS:
        paths.update(group.paths())
        schemas.update(group.SCHEMAS)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "reportsvc API",
            "version": __version__,
            "description": "Background PDF reports and the queue that carries them. Authenticate with "
                           "`Authorization: Bearer <token>` (`flask --app app tokens create NAME`). "
                           "`x-required-role` on each operation names the least role allowed.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": copy.deepcopy(schemas)},
    }


def api_operations(spec: dict[str, Any] | None = None) -> set[tuple[str, str]]:
    """{(METHOD, /path/{param})} described by the spec."""
    spec = spec or build_spec()
    return {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}


@bp.get("/openapi.json")
def spec() -> Response:
    """The OpenAPI document (public: it describes, it holds no data)."""
    response = jsonify(build_spec())
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


def init_app(app: Flask) -> None:
    """Serve /openapi.json."""
    app.register_blueprint(bp)
