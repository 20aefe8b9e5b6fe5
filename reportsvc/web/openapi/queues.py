"""The queues part of /openapi.json: counts, pause/resume, messages, dead letters, bulk jobs, workers."""

from __future__ import annotations

from typing import Any

from reportsvc.web.openapi.helpers import (
    MESSAGE_ID,
    NULLABLE_STR,
    QUEUE_NAME,
    UUID_SCHEMA,
    errors,
    json_response,
    op,
    path_param,
    query,
    ref,
)

QUEUE = path_param("name", QUEUE_NAME, "queue name (see GET /queues)")
MESSAGE = path_param("message_id", MESSAGE_ID, "Redis message id or Dramatiq message id")
JOB_ID = path_param("job_id", UUID_SCHEMA, "job id (UUID)")
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


def _dead_action(summary: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"post": op(summary, {
        "200": json_response({"type": "object"}, "done for the listed ids"),
        "202": json_response({"type": "object"}, "bulk job started"), **errors(400, 404, 413, 415, 422)},
        params=[QUEUE], body=body, body_required=True, role="operator", tags=("queues",))}


def paths() -> dict[str, Any]:
    """The /queues and /workers operations."""
    return {
        "/queues": {"get": op("Counts of every known queue", {
            "200": json_response({"type": "object", "required": ["queues"]}, "one entry per queue")},
            tags=("queues",))},
        "/queues/{name}/pause": {
            "post": op("Pause a queue: workers start none of its messages until it is resumed", {
                "200": json_response(ref("QueuePause"), "paused (changed false: it already was)"),
                **errors(400, 404)},
                params=[QUEUE], role="operator", tags=("queues",))},
        "/queues/{name}/resume": {
            "post": op("Resume a paused queue; its waiting work starts within a few seconds", {
                "200": json_response(ref("QueuePause"), "resumed (changed false: it was not paused)"),
                **errors(400, 404)},
                params=[QUEUE], role="operator", tags=("queues",))},
        "/queues/{name}/{state}": {
            "get": op("A page of messages in one state", {"200": json_response(ref("MessagePage"), "one page"),
                                                          **errors(400, 404)},
                      params=[QUEUE, path_param("state", {"type": "string", "maxLength": 50},
                                                "waiting, delayed, held or dead"),
                              query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "page size"),
                              query("cursor", {"type": "string"}, "next_cursor of the previous page"),
                              query("order", {"type": "string", "enum": ["newest", "oldest"]}, "order")],
                      tags=("queues",))},
        "/queues/{name}/messages/{message_id}": {
            "get": op("One message: location, body, report and timeline", {
                "200": json_response({"type": "object"}, "the message"), **errors(400, 404)},
                params=[QUEUE, MESSAGE], tags=("queues",))},
        "/queues/{name}/dead/requeue": _dead_action("Requeue dead letters", REQUEUE_SELECTION),
        "/queues/{name}/dead/delete": _dead_action("Delete dead letters", SELECTION),
        "/queues/{name}/dead/count": {
            "post": op("Dry run: how many dead letters a filter matches", {
                "200": json_response({"type": "object"}, "the count"), **errors(400, 404, 413, 415, 422)},
                params=[QUEUE], body={"type": "object", "properties": {"filter": {"type": "object"}}},
                role="operator", tags=("queues",))},
        "/queues/bulk-jobs/{job_id}": {
            "get": op("A bulk job's progress", {"200": json_response({"type": "object"}, "the job"),
                                                **errors(400, 404)},
                      params=[JOB_ID], tags=("queues",))},
        "/queues/bulk-jobs/{job_id}/cancel": {
            "post": op("Stop a bulk job after its current batch", {
                "200": json_response({"type": "object"}, "the job"), **errors(400, 404, 409)},
                params=[JOB_ID], role="operator", tags=("queues",))},
        "/queues/{name}/messages/{message_id}/promote": {
            "post": op("Run a delayed message now", {
                "200": json_response({"type": "object"}, "promoted"), **errors(400, 404, 409)},
                params=[QUEUE, MESSAGE], role="operator", tags=("queues",))},
        "/queues/{name}/messages/{message_id}/release": {
            "post": op("Put a message held by a dead worker back on its queue", {
                "200": json_response({"type": "object"}, "released"), **errors(400, 404, 409)},
                params=[QUEUE, MESSAGE], role="operator", tags=("queues",))},
        "/workers": {"get": op("Broker processes from Dramatiq's heartbeats", {
            "200": json_response({"type": "object", "required": ["workers"]}, "workers")}, tags=("queues",))},
        "/workers/{worker_id}/release": {
            "post": op("Release everything a dead worker holds", {
                "200": json_response({"type": "object"}, "released"), **errors(400, 404, 409, 413, 415, 422)},
                params=[path_param("worker_id", {"type": "string", "maxLength": 300}, "worker id")],
                body={"type": "object", "properties": {"force": {"type": "boolean"}}}, role="operator",
                tags=("queues",))},
    }


SCHEMAS: dict[str, Any] = {
    "QueuePause": {"type": "object", "required": ["queue", "changed", "paused"],
                   "properties": {"queue": {"type": "string"}, "changed": {"type": "boolean"},
                                  "paused": {"type": "boolean"}, "paused_since": NULLABLE_STR,
                                  "paused_by": NULLABLE_STR}},
    "MessagePage": {"type": "object", "required": ["queue", "state", "items"],
                    "properties": {"items": {"type": "array", "items": {"type": "object"}},
                                   "next_cursor": NULLABLE_STR}},
}
