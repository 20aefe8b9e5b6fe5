"""The schedules part of /openapi.json: create, list, read, change, delete, pause, resume, run now."""

from __future__ import annotations

from typing import Any

from reportsvc.state.models import STATUSES
from reportsvc.web.openapi.helpers import errors, json_response, op, query, ref

_ID = {"name": "schedule_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 100},
       "description": "schedule id (UUID)"}
_NULLABLE = {"type": "string", "nullable": True}

SCHEMAS: dict[str, Any] = {
    "ScheduleInput": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 100},
            "cron": {"type": "string", "minLength": 1, "maxLength": 100,
                     "description": "5 fields: minute hour day-of-month month day-of-week"},
            "timezone": {"type": "string", "minLength": 1, "maxLength": 64, "default": "UTC",
                         "description": "IANA time zone, e.g. Europe/Paris"},
            "report_type": {"type": "string", "minLength": 1, "maxLength": 64, "default": "operations"},
            "params": {"type": "object"},
            "title": {"type": "string", "maxLength": 200, "nullable": True,
                      "description": "{date}, {week} and {month} are filled from the slot"},
            "recipients": {"type": "array", "maxItems": 50, "items": {"type": "string", "format": "email"}},
            "misfire": {"type": "string", "enum": ["latest", "skip"], "default": "latest"},
            "callback_url": {"type": "string", "format": "uri", "maxLength": 2000, "nullable": True,
                             "description": "completion webhook of every report it makes (needs WEBHOOK_SECRET)"},
        },
    },
    "Schedule": {
        "type": "object", "required": ["id", "name", "cron", "timezone", "report_type", "enabled", "misfire"],
        "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "cron": {"type": "string"},
            "timezone": {"type": "string"}, "description": {"type": "string"},
            "report_type": {"type": "string"}, "params": {"type": "object"}, "title": _NULLABLE,
            "recipients": {"type": "array", "items": {"type": "string"}}, "enabled": {"type": "boolean"},
            "paused_reason": _NULLABLE, "callback_url": _NULLABLE,
            "misfire": {"type": "string", "enum": ["latest", "skip"]},
            "next_run_at": _NULLABLE, "last_run_at": _NULLABLE, "last_report_id": _NULLABLE,
            "next_runs": {"type": "array", "items": {"type": "string"}},
            "runs": {"type": "array", "items": {"type": "object", "properties": {
                "report_id": {"type": "string"}, "status": {"type": "string", "enum": list(STATUSES)},
                "scheduled_for": _NULLABLE}}},
        },
    },
    "SchedulePage": {"type": "object", "required": ["items", "next_cursor"],
                     "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Schedule"}},
                                    "next_cursor": _NULLABLE}},
}


def paths() -> dict[str, Any]:
    """The /schedules operations."""
    schedule = json_response(ref("Schedule"), "the schedule")
    return {
        "/schedules": {
            "post": op("Create a schedule", {
                "201": json_response(ref("Schedule"), "created; Location points at it"),
                **errors(400, 409, 413, 415, 422)},
                body=ref("ScheduleInput"), body_required=True, role="operator", tags=("schedules",)),
            "get": op("List schedules, newest first (keyset pages)", {
                "200": json_response(ref("SchedulePage"), "one page"), **errors(400)},
                params=[query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size"),
                        query("cursor", {"type": "string"}, "next_cursor of the previous page")],
                tags=("schedules",)),
        },
        "/schedules/{schedule_id}": {
            "get": op("One schedule with its next 5 runs and last 20 runs", {"200": schedule, **errors(400, 404)},
                      params=[_ID], tags=("schedules",)),
            "patch": op("Change a schedule (a new cron or zone moves the next run)", {
                "200": schedule, **errors(400, 404, 409, 413, 415, 422)},
                params=[_ID], body=ref("ScheduleInput"), role="operator", tags=("schedules",)),
            "delete": op("Delete a schedule (its reports stay)", {
                "200": json_response({"type": "object"}, "deleted"), **errors(400, 404)},
                params=[_ID], role="operator", tags=("schedules",)),
        },
        "/schedules/{schedule_id}/pause": {
            "post": op("Pause: make no reports until resumed (repeat is 200)", {"200": schedule, **errors(400, 404)},
                       params=[_ID], role="operator", tags=("schedules",))},
        "/schedules/{schedule_id}/resume": {
            "post": op("Resume from the next slot after now (repeat is 200)", {
                "200": schedule, **errors(400, 404, 422)}, params=[_ID], role="operator", tags=("schedules",))},
        "/schedules/{schedule_id}/run": {
            "post": op("Make one report now (no slot)", {
                "202": json_response(ref("Created"), "queued; Location points at the report"),
                **errors(400, 404, 422)},
                params=[_ID], role="operator", tags=("schedules",))},
    }
