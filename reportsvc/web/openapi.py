"""GET /openapi.json: the JSON API described as OpenAPI 3.0 (issue 6).

Written by hand next to the routes and kept true by tests/integration/test_openapi.py, which compares
its paths and methods with `app.url_map` (every non-console route must be described, nothing else)
and runs schemathesis against the live app from this document.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, Flask, Response, jsonify

from reportsvc.config import VERSION as __version__
from reportsvc.state.models import ROLES, STATUSES
from reportsvc.web import schedules_openapi

bp = Blueprint("openapi", __name__)

#: Blueprints / endpoints that serve HTML (the console) or files, not the JSON API.
NON_API_BLUEPRINTS = frozenset({"console", "console_queues", "console_dashboard", "console_users", "console_alerts",
                                "console_schedules", "console_events"})
NON_API_ENDPOINTS = frozenset({"static", "index", "auth.login", "auth.logout", "auth.logout_everywhere"})

UUID_SCHEMA = {"type": "string", "maxLength": 100}
QUEUE_NAME = {"type": "string", "maxLength": 300}
MESSAGE_ID = {"type": "string", "maxLength": 300}
NULLABLE_STR = {"type": "string", "nullable": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _errors(*codes: int) -> dict[str, Any]:
    texts = {
        400: "malformed input (bad id, filter or JSON)", 401: "no or bad credentials", 403: "role too low",
        404: "not found", 409: "conflict with the current state",
        410: "the PDF is gone: deleted by retention (file_expired) or missing from storage (file_missing)",
        413: "body too large", 503: "the report store is unavailable (storage_unavailable); retry shortly",
        415: "body is not JSON", 422: "invalid field (details name it)", 429: "rate limited (see Retry-After)",
    }
    return {str(c): _error(texts[c]) for c in codes}


def _path_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _op(summary: str, responses: dict[str, Any], *, params: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None, body_required: bool = False, role: str = "viewer",
        public: bool = False, tags: tuple[str, ...] = ()) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": responses, "x-required-role": None if public else role}
    if tags:
        op["tags"] = list(tags)
    if params:
        op["parameters"] = params
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": body}}}
    if public:
        op["security"] = []
    else:
        # Bad/absent credentials, too-low role and rate limits can answer any protected call.
        op["responses"] = {**responses, **_errors(401, 403, 429)}
    return op


REPORT_ID = _path_param("report_id", UUID_SCHEMA, "report id (UUID)")
QUEUE = _path_param("name", QUEUE_NAME, "queue name (see GET /queues)")
MESSAGE = _path_param("message_id", MESSAGE_ID, "Redis message id or Dramatiq message id")
SELECTION_FIELDS: dict[str, Any] = {
    "ids": {"type": "array", "items": {"type": "string"}},
    "all": {"type": "boolean"},
    "filter": {"type": "object"},
}
SELECTION = {
    "type": "object",
    "description": '{"ids": [...]} for those dead letters, or {"all": true, "filter": {...}} for a bulk job',
    "properties": SELECTION_FIELDS,
}
REQUEUE_SELECTION = {
    **SELECTION,
    "properties": {
        **SELECTION_FIELDS,
        "lane": {"type": "string", "enum": ["batch", "interactive", "original"],
                 "description": "where requeued generate_report letters and their reports go: a priority lane, "
                                "or the queue each died on; default batch with all, original with ids"},
    },
}


def build_spec() -> dict[str, Any]:
    """The OpenAPI document (a fresh dict each call)."""
    report_errors = _errors(400, 404)
    paths: dict[str, Any] = {
        "/healthz": {"get": _op("Liveness", {"200": _json({"type": "object"}, "the process is up")},
                                public=True, tags=("health",))},
        "/readyz": {"get": _op("Readiness: PostgreSQL, Redis and the report store", {
            "200": _json(_ref("Ready"), "all answer"), "503": _json(_ref("Ready"), "something is down")},
            public=True, tags=("health",))},
        "/metrics": {"get": _op("Prometheus metrics (public when METRICS_PUBLIC=1)", {
            "200": {"description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}}}},
            tags=("health",))},
        "/openapi.json": {"get": _op("This document", {"200": _json({"type": "object"}, "OpenAPI 3.0")},
                                     public=True, tags=("meta",))},
        "/me": {"get": _op("Who the credentials belong to", {"200": _json(_ref("Me"), "name, role, via")},
                           tags=("accounts",))},
        "/reports": {
            "post": _op("Queue a report", {
                "202": _json(_ref("Created"), "queued; Location points at the report"),
                **_errors(400, 413, 415, 422)},
                body=_ref("CreateReport"), role="operator", tags=("reports",)),
            "get": _op("List reports, newest first (keyset pages)", {
                "200": _json(_ref("ReportPage"), "one page"), **_errors(400)},
                params=[_query("status", {"type": "string", "enum": list(STATUSES)}, "only this status"),
                        _query("q", {"type": "string", "maxLength": 200}, "search title / id prefix"),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size"),
                        _query("cursor", {"type": "string"}, "next_cursor of the previous page"),
                        _query("schedule_id", {"type": "string", "maxLength": 100}, "only this schedule's")],
                tags=("reports",)),
        },
        "/report-types": {
            "get": _op("Report types a client can create, with each one's params as JSON Schema", {
                "200": _json(_ref("ReportTypes"), "types (datasets as table.<dataset>), sorted by name")},
                tags=("reports",))},
        "/reports/{report_id}": {
            "get": _op("One report with its timeline", {"200": _json(_ref("Report"), "the record"), **report_errors},
                       params=[REPORT_ID], tags=("reports",)),
            "delete": _op("Cancel a PENDING report (200, repeat too) or ask a RUNNING one to stop (202)", {
                "200": _json(_ref("IdStatus"), "cancelled"),
                "202": _json(_ref("CancelRequested"), "RUNNING: its worker stops within HEARTBEAT_INTERVAL_SECONDS"),
                **_errors(400, 404, 409)},
                params=[REPORT_ID], role="operator", tags=("reports",)),
        },
        "/reports/{report_id}/logs": {
            "get": _op("The report's own log lines, oldest first (tracebacks: console, operators)", {
                "200": _json(_ref("LogPage"), "one page"), **_errors(400, 404)},
                params=[REPORT_ID,
                        _query("attempt", {"type": "integer", "minimum": 1}, "only this attempt's lines"),
                        _query("level", {"type": "string", "enum": ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]},
                               "this level or above"),
                        _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size (100)"),
                        _query("cursor", {"type": "string"}, "next_cursor of the previous page")],
                tags=("reports",))},
        "/reports/{report_id}/status": {
            "get": _op("Poll a report's status", {"200": _json(_ref("Status"), "status and progress"),
                                                  **report_errors},
                       params=[REPORT_ID], tags=("reports",))},
        "/reports/{report_id}/download": {
            "get": _op("The PDF of a READY report", {
                "200": {"description": "the PDF (attachment report-<id>.pdf; ETag = its SHA-256)",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                "302": {"description": "a presigned URL of the PDF (STORAGE_PRESIGNED_DOWNLOADS=1)"},
                "304": {"description": "If-None-Match named the PDF's ETag"},
                **_errors(400, 404, 409, 410, 503)}, params=[REPORT_ID], tags=("reports",))},
        "/reports/{report_id}/retry": {
            "post": _op("Retry a FAILED report", {"202": _json(_ref("IdStatus"), "queued again"),
                                                  **_errors(400, 404, 409)},
                        params=[REPORT_ID], role="operator", tags=("reports",))},
        "/queues": {"get": _op("Counts of every known queue", {"200": _json({"type": "object", "required": ["queues"]},
                                                                             "one entry per queue")},
                               tags=("queues",))},
        "/queues/{name}/pause": {
            "post": _op("Pause a queue: workers start none of its messages until it is resumed", {
                "200": _json(_ref("QueuePause"), "paused (changed false: it already was)"), **_errors(400, 404)},
                params=[QUEUE], role="operator", tags=("queues",))},
        "/queues/{name}/resume": {
            "post": _op("Resume a paused queue; its waiting work starts within a few seconds", {
                "200": _json(_ref("QueuePause"), "resumed (changed false: it was not paused)"), **_errors(400, 404)},
                params=[QUEUE], role="operator", tags=("queues",))},
        "/queues/{name}/{state}": {
            "get": _op("A page of messages in one state", {"200": _json(_ref("MessagePage"), "one page"),
                                                           **_errors(400, 404)},
                       params=[QUEUE, _path_param("state", {"type": "string", "maxLength": 50},
                                                  "waiting, delayed, held or dead"),
                               _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size"),
                               _query("cursor", {"type": "string"}, "next_cursor of the previous page"),
                               _query("order", {"type": "string", "enum": ["newest", "oldest"]}, "order")],
                       tags=("queues",))},
        "/queues/{name}/messages/{message_id}": {
            "get": _op("One message: location, body, report and timeline", {
                "200": _json({"type": "object"}, "the message"), **_errors(400, 404)},
                params=[QUEUE, MESSAGE], tags=("queues",))},
        "/queues/{name}/dead/requeue": {
            "post": _op("Requeue dead letters", {
                "200": _json({"type": "object"}, "done for the listed ids"),
                "202": _json({"type": "object"}, "bulk job started"), **_errors(400, 404, 413, 415, 422)},
                params=[QUEUE], body=REQUEUE_SELECTION, body_required=True, role="operator", tags=("queues",))},
        "/queues/{name}/dead/delete": {
            "post": _op("Delete dead letters", {
                "200": _json({"type": "object"}, "done for the listed ids"),
                "202": _json({"type": "object"}, "bulk job started"), **_errors(400, 404, 413, 415, 422)},
                params=[QUEUE], body=SELECTION, body_required=True, role="operator", tags=("queues",))},
        "/queues/{name}/dead/count": {
            "post": _op("Dry run: how many dead letters a filter matches", {
                "200": _json({"type": "object"}, "the count"), **_errors(400, 404, 413, 415, 422)},
                params=[QUEUE], body={"type": "object", "properties": {"filter": {"type": "object"}}},
                role="operator", tags=("queues",))},
        "/queues/bulk-jobs/{job_id}": {
            "get": _op("A bulk job's progress", {"200": _json({"type": "object"}, "the job"), **_errors(400, 404)},
                       params=[_path_param("job_id", UUID_SCHEMA, "job id (UUID)")], tags=("queues",))},
        "/queues/bulk-jobs/{job_id}/cancel": {
            "post": _op("Stop a bulk job after its current batch", {
                "200": _json({"type": "object"}, "the job"), **_errors(400, 404, 409)},
                params=[_path_param("job_id", UUID_SCHEMA, "job id (UUID)")], role="operator", tags=("queues",))},
        "/queues/{name}/messages/{message_id}/promote": {
            "post": _op("Run a delayed message now", {
                "200": _json({"type": "object"}, "promoted"), **_errors(400, 404, 409)},
                params=[QUEUE, MESSAGE], role="operator", tags=("queues",))},
        "/queues/{name}/messages/{message_id}/release": {
            "post": _op("Put a message held by a dead worker back on its queue", {
                "200": _json({"type": "object"}, "released"), **_errors(400, 404, 409)},
                params=[QUEUE, MESSAGE], role="operator", tags=("queues",))},
        "/workers": {"get": _op("Broker processes from Dramatiq's heartbeats", {
            "200": _json({"type": "object", "required": ["workers"]}, "workers")}, tags=("queues",))},
        "/workers/{worker_id}/release": {
            "post": _op("Release everything a dead worker holds", {
                "200": _json({"type": "object"}, "released"), **_errors(400, 404, 409, 413, 415, 422)},
                params=[_path_param("worker_id", {"type": "string", "maxLength": 300}, "worker id")],
                body={"type": "object", "properties": {"force": {"type": "boolean"}}}, role="operator",
                tags=("queues",))},
        "/audit": {"get": _op("Audit log, newest first", {"200": _json(_ref("Page"), "one page"), **_errors(400)},
                              params=[_query("limit", {"type": "integer", "minimum": 1, "maximum": 200}, "page size"),
                                      _query("cursor", {"type": "string"}, "next_cursor"),
                                      _query("action", {"type": "string", "maxLength": 64}, "only this action"),
                                      _query("actor", {"type": "string", "maxLength": 255}, "only this actor")],
                              tags=("audit",))},
        "/users": {
            "get": _op("Accounts", {"200": _json(_ref("Page"), "every account")}, role="admin", tags=("accounts",)),
            "post": _op("Create an account (password generated and returned once when omitted)", {
                "201": _json(_ref("User"), "created"), **_errors(400, 409, 413, 415, 422)},
                body=_ref("CreateUser"), body_required=True, role="admin", tags=("accounts",)),
        },
        "/users/{name}/disable": {
            "post": _op("Disable an account: sessions end, tokens stop working", {
                "200": _json(_ref("User"), "disabled"), **_errors(404, 409)},
                params=[_path_param("name", {"type": "string", "maxLength": 64}, "account name")], role="admin",
                tags=("accounts",))},
        "/users/{name}/enable": {
            "post": _op("Re-enable an account", {"200": _json(_ref("User"), "enabled"), **_errors(404, 409)},
                        params=[_path_param("name", {"type": "string", "maxLength": 64}, "account name")],
                        role="admin", tags=("accounts",))},
        "/users/{name}/sessions/end": {
            "post": _op("Sign an account out everywhere: its console sessions end, its tokens keep working", {
                "200": _json(_ref("User"), "signed out"), **_errors(404)},
                params=[_path_param("name", {"type": "string", "maxLength": 64}, "account name")],
                role="admin", tags=("accounts",))},
        "/tokens": {
            "get": _op("API tokens (metadata only)", {"200": _json(_ref("Page"), "tokens"), **_errors(400)},
                       params=[_query("user", {"type": "string", "maxLength": 64}, "only this account's")],
                       role="admin", tags=("accounts",)),
            "post": _op("Create an API token (returned in this response only)", {
                "201": _json({"type": "object", "required": ["token", "id", "prefix"]}, "created"),
                **_errors(400, 404, 409, 413, 415, 422)},
                body=_ref("CreateToken"), body_required=True, role="admin", tags=("accounts",)),
        },
        "/tokens/{token_id}/revoke": {
            "post": _op("Revoke a token (repeat is 200)", {"200": _json({"type": "object"}, "revoked"),
                                                           **_errors(400, 404)},
                        params=[_path_param("token_id", {"type": "string", "maxLength": 30}, "token id")],
                        role="admin", tags=("accounts",))},
    }
    paths.update(schedules_openapi.paths(_op, _json, _ref, _errors, _query))
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
                       "schemas": copy.deepcopy(SCHEMAS | schedules_openapi.SCHEMAS)},
    }


_TIMESTAMP = {"type": "string", "nullable": True}
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}},
    },
    "Ready": {"type": "object", "required": ["status", "checks"],
              "properties": {"status": {"type": "string"}, "checks": {"type": "object"},
                             "down": {"type": "array", "items": {"type": "string"}}}},
    "Me": {"type": "object", "required": ["name", "role", "via"],
           "properties": {"name": {"type": "string"}, "role": {"type": "string", "enum": list(ROLES)},
                          "via": {"type": "string", "enum": ["session", "token"]}}},
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
                    "id": {"type": "integer"}, "attempt": {"type": "integer"}, "time": _TIMESTAMP,
                    "level": {"type": "string"}, "logger": {"type": "string"}, "message": {"type": "string"},
                    "traceback": NULLABLE_STR, "worker": NULLABLE_STR}}},
                    "next_cursor": NULLABLE_STR}},
    "QueuePause": {"type": "object", "required": ["queue", "changed", "paused"],
                   "properties": {"queue": {"type": "string"}, "changed": {"type": "boolean"},
                                  "paused": {"type": "boolean"}, "paused_since": NULLABLE_STR,
                                  "paused_by": NULLABLE_STR}},
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
                              "title": NULLABLE_STR, "requested_by": NULLABLE_STR, "created_at": _TIMESTAMP,
                              "events": {"type": "array", "items": {"type": "object"}}}},
    "ReportPage": {"type": "object", "required": ["items", "next_cursor"],
                   "properties": {"items": {"type": "array", "items": {"type": "object"}},
                                  "next_cursor": NULLABLE_STR}},
    "MessagePage": {"type": "object", "required": ["queue", "state", "items"],
                    "properties": {"items": {"type": "array", "items": {"type": "object"}},
                                   "next_cursor": NULLABLE_STR}},
    "Page": {"type": "object", "required": ["items"],
             "properties": {"items": {"type": "array", "items": {"type": "object"}}}},
    "User": {"type": "object", "required": ["name", "role", "disabled"],
             "properties": {"name": {"type": "string"}, "role": {"type": "string", "enum": list(ROLES)},
                            "disabled": {"type": "boolean"}, "password": {"type": "string"}}},
    "CreateUser": {"type": "object", "required": ["name", "role"], "additionalProperties": False,
                   "properties": {"name": {"type": "string", "maxLength": 64},
                                  "role": {"type": "string", "enum": list(ROLES)},
                                  "password": {"type": "string", "minLength": 10, "maxLength": 1024}}},
    "CreateToken": {"type": "object", "required": ["user"], "additionalProperties": False,
                    "properties": {"user": {"type": "string", "maxLength": 64},
                                   "label": {"type": "string", "maxLength": 100}}},
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
