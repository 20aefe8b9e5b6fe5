"""The health and meta part of /openapi.json: /healthz, /readyz, /metrics and the document itself."""

from __future__ import annotations

from typing import Any

from reportsvc.web.openapi.helpers import json_response, op, ref

SCHEMAS: dict[str, Any] = {
    "Ready": {"type": "object", "required": ["status", "checks"],
              "properties": {"status": {"type": "string"}, "checks": {"type": "object"},
                             "down": {"type": "array", "items": {"type": "string"}}}},
}


def paths() -> dict[str, Any]:
    """The health and meta operations."""
    return {
        "/healthz": {"get": op("Liveness", {"200": json_response({"type": "object"}, "the process is up")},
                               public=True, tags=("health",))},
        "/readyz": {"get": op("Readiness: PostgreSQL, Redis and the report store", {
            "200": json_response(ref("Ready"), "all answer"), "503": json_response(ref("Ready"), "something is down")},
            public=True, tags=("health",))},
        "/metrics": {"get": op("Prometheus metrics (public when METRICS_PUBLIC=1)", {
            "200": {"description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}},
            tags=("health",))},
        "/openapi.json": {"get": op("This document", {"200": json_response({"type": "object"}, "OpenAPI 3.0")},
                                    public=True, tags=("meta",))},
    }
