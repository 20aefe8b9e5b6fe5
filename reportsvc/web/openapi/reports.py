"""The reports part of /openapi.json: create, list, read, cancel, retry, download, logs, report types."""

from __future__ import annotations

from typing import Any

from reportsvc.state.models import STATUSES
from reportsvc.web.openapi.helpers import (
    NULLABLE_STR,
    TIMESTAMP,
    UUID_SCHEMA,
    errors,
    json_response,
    op,
    path_param,
    query,
    ref,
)

REPORT_ID = path_param("report_id", UUID_SCHEMA, "report id (UUID)")


def paths() -> dict[str, Any]:
    """The /reports and /report-types operations."""
    report_errors = errors(400, 404)
    return {
        "/reports": {
            "post": op("Queue a report", {
                "202": json_response(ref("Created"), "queued; Location points at the report"),
                **errors(400, 413, 415, 422)},
                body=ref("CreateReport"), role="operator", tags=("reports",)),
            "get": op("List reports, newest first (keyset pages)", {
                "200": json_response(ref("ReportPage"), "one page"), **errors(400)},
                params=[query("status", {"type": "string", "enum": list(STATUSES)}, "only this status"),
                        query("q", {"type": "string", "maxLength": 200}, "search title / id prefix"),
                        query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size"),
                        query("cursor", {"type": "string"}, "next_cursor of the previous page"),
                        query("schedule_id", {"type": "string", "maxLength": 100}, "only this schedule's")],
                tags=("reports",)),
        },
        "/report-types": {
            "get": op("Report types a client can create, with each one's params as JSON Schema", {
                "200": json_response(ref("ReportTypes"), "types (datasets as table.<dataset>), sorted by name")},
                tags=("reports",))},
        "/reports/{report_id}": {
            "get": op("One report with its timeline", {"200": json_response(ref("Report"), "the record"),
                                                       **report_errors},
                      params=[REPORT_ID], tags=("reports",)),
            "delete": op("Cancel a PENDING report (200, repeat too) or ask a RUNNING one to stop (202)", {
                "200": json_response(ref("IdStatus"), "cancelled"),
                "202": json_response(ref("CancelRequested"),
                                     "RUNNING: its worker stops within HEARTBEAT_INTERVAL_SECONDS"),
                **errors(400, 404, 409)},
                params=[REPORT_ID], role="operator", tags=("reports",)),
        },
        "/reports/{report_id}/logs": {
            "get": op("The report's own log lines, oldest first (tracebacks: console, operators)", {
                "200": json_response(ref("LogPage"), "one page"), **errors(400, 404)},
                params=[REPORT_ID,
                        query("attempt", {"type": "integer", "minimum": 1}, "only this attempt's lines"),
                        query("level", {"type": "string", "enum": ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]},
                              "this level or above"),
                        query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size (100)"),
                        query("cursor", {"type": "string"}, "next_cursor of the previous page")],
                tags=("reports",))},
        "/reports/{report_id}/status": {
            "get": op("Poll a report's status", {"200": json_response(ref("Status"), "status and progress"),
                                                 **report_errors},
                      params=[REPORT_ID], tags=("reports",))},
        "/reports/{report_id}/download": {
            "get": op("The PDF of a READY report", {
                "200": {"description": "the PDF (attachment report-<id>.pdf; ETag = its SHA-256)",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                "302": {"description": "a presigned URL of the PDF (STORAGE_PRESIGNED_DOWNLOADS=1)"},
                "304": {"description": "If-None-Match named the PDF's ETag"},
                **errors(400, 404, 409, 410, 503)}, params=[REPORT_ID], tags=("reports",))},
        "/reports/{report_id}/retry": {
            "post": op("Retry a FAILED report", {"202": json_response(ref("IdStatus"), "queued again"),
                                                 **errors(400, 404, 409)},
                       params=[REPORT_ID], role="operator", tags=("reports",))},
    }


SCHEMAS: dict[str, Any] = {
    "CreateReport": {
        "type": "object", "additionalProperties": False,
        "properties": {
            "report_type": {"type": "string", "minLength": 1, "maxLength": 64, "default": "operations"},
            "title": {"type": "string", "maxLength": 200, "nullable": True},
            "notify_email": {"type": "string", "maxLength": 254, "nullable": True},
            "callback_url": {"type": "string", "format": "uri", "maxLength": 2000, "nullable": True,
                             "description": "POSTed a signed JSON webhook when the report is READY, FAILED "
                                            "or CANCELLED (needs WEBHOOK_SECRET on the server)"},
            "priority": {"type": "string", "enum": ["interactive", "batch"], "default": "interactive"},
            "params": {"type": "object"},
        },
    },
    "ReportTypes": {"type": "object", "required": ["items"], "properties": {"items": {"type": "array", "items": {
        "type": "object", "required": ["name", "description", "version", "params_schema"],
        "properties": {"name": {"type": "string"}, "description": {"type": "string"}, "version": {"type": "string"},
                       "params_schema": {"type": "object", "description": "JSON Schema of `params`"}}}}}},
    "Created": {"type": "object", "required": ["id", "status", "message"],
                "properties": {"id": {"type": "string", "format": "uuid"}, "status": {"type": "string"},
                               "message": {"type": "string"}}},
    "IdStatus": {"type": "object", "required": ["id", "status"],
                 "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": list(STATUSES)}}},
    "CancelRequested": {"type": "object", "required": ["id", "status", "cancel_requested"],
                        "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": ["RUNNING"]},
                                       "cancel_requested": {"type": "boolean"}}},
    "LogPage": {"type": "object", "required": ["items", "next_cursor"],
                "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "attempt": {"type": "integer"}, "time": TIMESTAMP,
                    "level": {"type": "string"}, "logger": {"type": "string"}, "message": {"type": "string"},
                    "traceback": NULLABLE_STR, "worker": NULLABLE_STR}}},
                    "next_cursor": NULLABLE_STR}},
    "Status": {"type": "object", "required": ["id", "status", "progress"],
               "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": list(STATUSES)},
                              "progress": {"type": "integer", "minimum": 0, "maximum": 100},
                              "progress_message": NULLABLE_STR, "error_message": NULLABLE_STR,
                              "download_url": NULLABLE_STR, "cancel_requested": {"type": "boolean"},
                              "queue_paused": {"type": "boolean"}, "note": {"type": "string"}}},
    "Report": {"type": "object", "required": ["id", "status", "progress", "report_type", "created_at"],
               "properties": {"id": {"type": "string"}, "status": {"type": "string", "enum": list(STATUSES)},
                              "progress": {"type": "integer"}, "report_type": {"type": "string"},
                              "report_type_version": NULLABLE_STR,
                              "title": NULLABLE_STR, "requested_by": NULLABLE_STR, "created_at": TIMESTAMP,
                              "events": {"type": "array", "items": {"type": "object"}}}},
    "ReportPage": {"type": "object", "required": ["items", "next_cursor"],
                   "properties": {"items": {"type": "array", "items": {"type": "object"}},
                                  "next_cursor": NULLABLE_STR}},
}
