"""GET /report-types: every report type a client can create, with its params as JSON Schema."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify

from reportsvc import reports

bp = Blueprint("report_types_api", __name__)


def describe(rt: reports.ReportType) -> dict[str, Any]:
    """One type for clients: name, description, version and the JSON Schema of its params."""
    return {"name": rt.name, "description": rt.description, "version": rt.version,
            "params_schema": rt.params_model.model_json_schema()}


@bp.get("/report-types")
def list_report_types() -> Response:
    """Installed report types and each dataset as `table.<dataset>`, sorted by name."""
    return jsonify({"items": [describe(rt) for rt in reports.offered()]})
